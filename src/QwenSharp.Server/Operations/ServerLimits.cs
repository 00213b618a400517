using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace QwenSharp.Server.Operations;

/// <summary>
/// Kestrel's limits as `qwensharp serve` sets them, so that no client holds a connection, a thread or memory
/// without sending or reading at a useful rate. The server README lists them.
/// </summary>
public static class ServerLimits
{
    /// <summary>Connections open at once; more wait in the listen backlog (vLLM's uvicorn has no limit, Ollama's
    /// net/http neither: this keeps a flood of idle sockets from exhausting file descriptors).</summary>
    public const int MaxConnections = 1024;

    /// <summary>Every header of one request together (Kestrel's default; nginx's default is 8 KB per line).</summary>
    public const int MaxHeaderBytes = 32 * 1024;

    /// <summary>Time to receive a request's headers once its connection has started one.</summary>
    public static readonly TimeSpan HeadersTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Idle time allowed between requests on a kept-alive connection.</summary>
    public static readonly TimeSpan KeepAliveTimeout = TimeSpan.FromSeconds(120);

    /// <summary>A body must arrive at 240 bytes/s or faster, averaged after a 5 s grace period, or the connection is
    /// dropped (408); the same holds for reading responses. A trickling client never reaches the engine: the body is
    /// read whole before a request is looked at.</summary>
    public static readonly MinDataRate MinBodyRate = new(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(5));

    public static void Apply(KestrelServerLimits limits, ServerOptions options)
    {
        limits.MaxRequestBodySize = options.MaxRequestBytes;
        limits.MaxConcurrentConnections = MaxConnections;
        limits.MaxConcurrentUpgradedConnections = MaxConnections;
        limits.MaxRequestHeadersTotalSize = MaxHeaderBytes;
        limits.RequestHeadersTimeout = HeadersTimeout;
        limits.KeepAliveTimeout = KeepAliveTimeout;
        limits.MinRequestBodyDataRate = MinBodyRate;
        limits.MinResponseDataRate = MinBodyRate;
    }
}
