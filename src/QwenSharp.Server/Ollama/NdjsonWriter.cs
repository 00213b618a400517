using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace QwenSharp.Server.Ollama;

/// <summary>Ollama's streaming format: one JSON object per line (application/x-ndjson), flushed per line.</summary>
public sealed class NdjsonWriter(HttpResponse response)
{
    public void Start()
    {
        response.StatusCode = 200;
        response.ContentType = "application/x-ndjson";
    }

    public async Task WriteAsync<T>(T value, JsonTypeInfo<T> type, CancellationToken ct)
    {
        await JsonSerializer.SerializeAsync(response.Body, value, type, ct);
        await response.Body.WriteAsync("\n"u8.ToArray(), ct);
        await response.Body.FlushAsync(ct);
    }
}
