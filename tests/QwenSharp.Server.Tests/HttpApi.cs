using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace QwenSharp.Server.Tests;

/// <summary>Raw HTTP helpers: post a JSON string, read JSON or SSE events back.</summary>
public static class HttpApi
{
    public static async Task<(int Status, JsonNode? Body)> PostAsync(HttpClient http, string path, string json, string? apiKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (apiKey != null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var response = await http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length > 0 ? JsonNode.Parse(text) : null);
    }

    /// <summary>The `data:` payloads of an SSE response, in order, and the raw text (to check the framing).</summary>
    public static async Task<(List<string> Events, string Raw, string? ContentType)> PostSseAsync(HttpClient http, string path, string json)
    {
        using var response = await http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        string raw = await response.Content.ReadAsStringAsync();
        var events = raw.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(block => Assert.Single(block.Split('\n')))
            .Select(line => line.StartsWith("data: ", StringComparison.Ordinal) ? line[6..] : throw new Xunit.Sdk.XunitException($"not an SSE data line: {line}"))
            .ToList();
        return (events, raw, response.Content.Headers.ContentType?.MediaType);
    }

    public static JsonNode Json(string s) => JsonNode.Parse(s)!;

    /// <summary>Asserts an OpenAI error object: `{"error": {"message", "type", "param", "code"}}`.</summary>
    public static JsonObject AssertError(JsonNode? body, int code, string? param, params string[] messageParts)
    {
        var error = Assert.IsType<JsonObject>(body?["error"]);
        Assert.Equal(code, (int)error["code"]!);
        Assert.False(string.IsNullOrEmpty((string?)error["type"]));
        Assert.True(error.ContainsKey("param"));
        Assert.Equal(param, (string?)error["param"]);
        string message = (string)error["message"]!;
        foreach (var part in messageParts) Assert.Contains(part, message);
        return error;
    }

    public static string Escape(string s) => JsonSerializer.Serialize(s);
}
