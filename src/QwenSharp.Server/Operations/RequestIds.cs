using Microsoft.AspNetCore.Http;

namespace QwenSharp.Server;

/// <summary>Request ids: the client's X-Request-Id when it sends one (as vLLM honours it), otherwise random hex.</summary>
public static class RequestIds
{
    /// <summary>The request's id, made once and kept on the request (error messages and log lines name it).</summary>
    public static string Of(HttpContext http)
    {
        if (http.Items.TryGetValue(typeof(RequestIds), out var id) && id is string s) return s;
        string made = Make(http);
        http.Items[typeof(RequestIds)] = made;
        return made;
    }

    public static string From(HttpContext http) => Of(http);

    private static string Make(HttpContext http)
    {
        string? given = http.Request.Headers["X-Request-Id"];
        if (!string.IsNullOrWhiteSpace(given) && given.Length <= 128 && given.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            return given;
        return Guid.NewGuid().ToString("N");
    }
}
