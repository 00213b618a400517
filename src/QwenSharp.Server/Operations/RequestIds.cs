using Microsoft.AspNetCore.Http;

namespace QwenSharp.Server;

/// <summary>Request ids: the client's X-Request-Id when it sends one (as vLLM honours it), otherwise random hex.</summary>
public static class RequestIds
{
    public static string From(HttpContext http)
    {
        string? given = http.Request.Headers["X-Request-Id"];
        if (!string.IsNullOrWhiteSpace(given) && given.Length <= 128 && given.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            return given;
        return Guid.NewGuid().ToString("N");
    }
}
