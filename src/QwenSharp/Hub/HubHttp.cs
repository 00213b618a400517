using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace QwenSharp.Hub;

/// <summary>
/// The HTTP side shared by the Hugging Face and ModelScope clients: one client that does not follow redirects
/// by itself (so the token is sent only to the host it was meant for), redirect following, and the
/// translation of transport failures into sentences a person can act on.
/// </summary>
public static class HubHttp
{
    private static readonly Lazy<HttpClient> Shared = new(() =>
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(20),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("qwensharp",
            typeof(HubHttp).Assembly.GetName().Version?.ToString() ?? "0"));
        return client;
    });

    public static HttpClient ClientFor(HubOptions options) => options.HttpClient ?? Shared.Value;

    /// <summary>Whether a bearer token sent to <paramref name="from"/> may also go to <paramref name="to"/>: only on
    /// the same host and port, and never from https down to plain http, where anyone on the path could read it
    /// (the rule of Python requests' should_strip_auth, which huggingface_hub relies on).</summary>
    public static bool KeepsToken(Uri from, Uri to) =>
        string.Equals(from.Authority, to.Authority, StringComparison.OrdinalIgnoreCase)
        && !(from.Scheme == Uri.UriSchemeHttps && to.Scheme != Uri.UriSchemeHttps);

    /// <summary>Sends a request for each URL along a redirect chain (up to 10 hops), with the bearer
    /// <paramref name="token"/> on each hop that <see cref="KeepsToken"/> allows from the one before; once
    /// dropped it stays dropped for the rest of the chain. With
    /// <paramref name="crossHost"/> false a redirect to another host is returned to the caller instead of
    /// followed: huggingface_hub's metadata request reads the LFS headers from that 302.</summary>
    public static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, Uri url,
        string? token, bool crossHost, CancellationToken ct, Action<HttpRequestMessage>? configure = null)
    {
        for (int hop = 0; ; hop++)
        {
            var request = new HttpRequestMessage(method, url);
            if (token != null)
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            configure?.Invoke(request);
            HttpResponseMessage response;
            try
            {
                response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            }
            catch (HttpRequestException e)
            {
                throw Unreachable(url, e);
            }
            catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
            {
                throw new HubException($"{url.Authority} did not answer in time; check your network or proxy, or set HF_HUB_OFFLINE=1 to use cached models only.", e);
            }
            int status = (int)response.StatusCode;
            if (status is 301 or 302 or 303 or 307 or 308 && response.Headers.Location is { } location)
            {
                var next = location.IsAbsoluteUri ? location : new Uri(url, location);
                if (hop >= 10) { response.Dispose(); throw new HubException($"{url} redirects more than 10 times; the server or mirror is misconfigured."); }
                if (next.Scheme != Uri.UriSchemeHttps && next.Scheme != Uri.UriSchemeHttp)
                {
                    response.Dispose();
                    throw new HubException($"{url} redirects to '{CacheNames.Shown(next.OriginalString)}', which is not an http or https URL; the server or mirror is misconfigured.");
                }
                if (!crossHost && next.Authority != url.Authority) return response;
                response.Dispose();
                if (token != null && !KeepsToken(url, next)) token = null;
                url = next;
                if (status == 303) method = method == HttpMethod.Head ? HttpMethod.Head : HttpMethod.Get;
                continue;
            }
            return response;
        }
    }

    /// <summary>A sentence for a request that never got an answer: no network, DNS failure, connection refused.</summary>
    public static HubException Unreachable(Uri url, Exception e)
    {
        string host = url.Authority;
        var socket = e as SocketException ?? e.InnerException as SocketException;
        var kind = (e as HttpRequestException)?.HttpRequestError;
        string what = kind == HttpRequestError.NameResolutionError || socket?.SocketErrorCode is SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData
            ? $"cannot resolve {url.Host} (no network or no DNS)"
            : socket?.SocketErrorCode == SocketError.ConnectionRefused ? $"{host} refused the connection"
            : socket?.SocketErrorCode is SocketError.NetworkUnreachable or SocketError.HostUnreachable ? $"{host} is unreachable (no network)"
            : $"cannot reach {host} ({e.Message.TrimEnd('.')})";
        return new HubException($"Download failed: {what}; check your connection or proxy, set HF_ENDPOINT to a mirror, or set HF_HUB_OFFLINE=1 to use cached models only.", e);
    }

    /// <summary>True for "no space left on device": errno ENOSPC (28) on Unix, ERROR_DISK_FULL / ERROR_HANDLE_DISK_FULL on Windows.</summary>
    public static bool IsDiskFull(IOException e) =>
        e.HResult is 28 or unchecked((int)0x80070070) or unchecked((int)0x80070027);

    public static HubException DiskFull(string path, long? needed, Exception? inner)
    {
        string dir = Path.GetDirectoryName(path) ?? path;
        string free = FreeBytes(dir) is { } f ? DownloadProgressPrinter.Size(f) + " free" : "no free space";
        string need = needed is { } n ? $"needs {DownloadProgressPrinter.Size(n)} more, " : "";
        return new HubException($"The disk is full writing {path}: it {need}{dir} has {free}; free some space or point HF_HUB_CACHE (or MODELSCOPE_CACHE) at a larger disk.", inner);
    }

    /// <summary>Free bytes on the volume holding <paramref name="dir"/>, or null if the system will not say.</summary>
    public static long? FreeBytes(string dir)
    {
        try
        {
            while (!Directory.Exists(dir) && Path.GetDirectoryName(dir) is { } parent) dir = parent;
            return new DriveInfo(Path.GetFullPath(dir)).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Reads a short error body (the Hub answers JSON like {"error": "..."}), for the message.</summary>
    public static async Task<string> ErrorTextAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            string body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            body = body.Length > 200 ? body[..200] : body;
            return body.ReplaceLineEndings(" ").Trim();
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return "";
        }
    }
}
