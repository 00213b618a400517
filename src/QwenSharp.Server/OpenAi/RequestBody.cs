using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace QwenSharp.Server.OpenAi;

/// <summary>Reads a request body as JSON, answering malformed input with a 400 that says where it broke.</summary>
public static class RequestBody
{
    public static async Task<JsonDocument> ReadAsync(HttpContext http)
    {
        try
        {
            return await JsonDocument.ParseAsync(http.Request.Body, new JsonDocumentOptions { MaxDepth = 64 }, http.RequestAborted);
        }
        catch (JsonException e)
        {
            string where = e.LineNumber is { } line ? $" at line {line + 1}, byte {e.BytePositionInLine + 1}" : "";
            throw ApiException.BadRequest($"The request body is not valid JSON{where}: {FirstSentence(e.Message)}");
        }
    }

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).Trim();
    }
}
