using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace QwenSharp.Server.OpenAi;

/// <summary>
/// Reads a request body as JSON: only a JSON content type is read (415 otherwise: a web page can send text/plain
/// or form bodies cross-site without a CORS preflight, JSON it cannot), at most <see cref="MaxDepth"/> levels
/// deep, and every string must be text (<see cref="JsonText"/>). Malformed input is a 400 that says where it broke.
/// </summary>
public static class RequestBody
{
    /// <summary>Nesting of objects and arrays; OpenAI requests need a handful (tool schemas a dozen or so).</summary>
    public const int MaxDepth = 64;

    public static async Task<JsonDocument> ReadAsync(HttpContext http)
    {
        if (!http.Request.HasJsonContentType())
        {
            string given = http.Request.ContentType is { Length: > 0 } t ? $"'{(t.Length <= 60 ? t : t[..57] + "...")}'" : "none";
            throw new ApiException(415, $"The request body must be JSON, sent with 'Content-Type: application/json'; the Content-Type was {given}.");
        }
        JsonDocument doc;
        try
        {
            doc = await JsonDocument.ParseAsync(http.Request.Body, new JsonDocumentOptions { MaxDepth = MaxDepth }, http.RequestAborted);
        }
        catch (JsonException e)
        {
            string where = e.LineNumber is { } line ? $" at line {line + 1}, byte {e.BytePositionInLine + 1}" : "";
            string depth = e.Message.Contains("depth", StringComparison.OrdinalIgnoreCase) ? $" (at most {MaxDepth} levels of nesting)" : "";
            throw ApiException.BadRequest($"The request body is not valid JSON{where}: {FirstSentence(e.Message)}{depth}");
        }
        try
        {
            JsonText.Check(doc.RootElement);
            return doc;
        }
        catch
        {
            doc.Dispose();
            throw;
        }
    }

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).Trim();
    }
}
