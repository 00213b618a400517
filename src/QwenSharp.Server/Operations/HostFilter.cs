using System.Net;
using Microsoft.AspNetCore.Http;

namespace QwenSharp.Server.Operations;

/// <summary>
/// DNS-rebinding protection for a server on a loopback address, as Ollama added after CVE-2024-28224: a web page
/// can point a name it controls at 127.0.0.1 and then talk to the local server as "same origin", but its requests
/// still carry that name in Host. So while the server listens only on loopback, a request whose Host is not a
/// loopback name or address (or one listed in --allowed-hosts) is refused with 403. A server bound to another
/// address is reachable by other hosts on purpose; its Host headers are not checked.
/// </summary>
public sealed class HostFilter
{
    private readonly bool _active;
    private readonly bool _any;
    private readonly HashSet<string> _allowed;

    public HostFilter(string listenHost, IReadOnlyList<string> allowedHosts)
    {
        _active = IsLoopbackListener(listenHost);
        _any = allowedHosts.Contains("*");
        _allowed = new HashSet<string>(allowedHosts.Select(h => h.Trim().ToLowerInvariant()), StringComparer.Ordinal);
    }

    /// <summary>Null when the request may go on, otherwise the 403 message naming the refused Host.</summary>
    public string? Refusal(HttpRequest request)
    {
        if (!_active || _any) return null;
        string host = HostName(request.Headers.Host.ToString());
        if (IsLoopbackName(host) || _allowed.Contains(host)) return null;
        return $"Host '{Shorten(request.Headers.Host.ToString())}' is not allowed: this server listens on a loopback address and answers only " +
            "requests addressed to localhost or a loopback IP (start it with --allowed-hosts to add names).";
    }

    public static bool IsLoopbackListener(string listenHost) =>
        listenHost == "localhost" || (IPAddress.TryParse(listenHost, out var ip) && IPAddress.IsLoopback(ip));

    /// <summary>The Host header's name without its port, lower-cased; IPv6 literals without brackets.</summary>
    internal static string HostName(string hostHeader)
    {
        string h = hostHeader.Trim().ToLowerInvariant();
        if (h.StartsWith('['))
        {
            int close = h.IndexOf(']');
            return close > 0 ? h[1..close] : h;
        }
        int colon = h.LastIndexOf(':');
        // One colon: a port follows. More: an IPv6 literal without brackets (not valid in Host, but not a name either).
        return colon >= 0 && h.IndexOf(':') == colon ? h[..colon] : h;
    }

    /// <summary>Loopback as names resolve on every system: "localhost", its subdomains (RFC 6761 reserves .localhost
    /// for loopback), 127.0.0.0/8 and ::1. An empty Host (HTTP/1.0) names no other site, so it is allowed.</summary>
    internal static bool IsLoopbackName(string host) =>
        host.Length == 0 || host == "localhost" || host.EndsWith(".localhost", StringComparison.Ordinal)
        || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));

    private static string Shorten(string s) => s.Length <= 80 ? s : s[..77] + "...";
}
