using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using QwenSharp.Server.Backend;

namespace QwenSharp.Server.Operations;

/// <summary>
/// What GET /metrics exposes, in Prometheus text format 0.0.4, named as vLLM's `vllm:` metrics
/// (vllm/v1/metrics/loggers.py) with a `qwensharp:` prefix: request gauges and cache figures from the
/// backend, token counters, and TTFT / inter-token / end-to-end latency histograms observed by the server.
/// </summary>
public sealed class ServerMetrics
{
    // vLLM's bucket bounds for the same histograms, so dashboards built for vLLM read these unchanged.
    private readonly Histogram _ttft = new("qwensharp:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
        [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]);
    private readonly Histogram _itl = new("qwensharp:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
        [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0]);
    private readonly Histogram _e2e = new("qwensharp:e2e_request_latency_seconds", "Histogram of end-to-end request latency in seconds.",
        [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]);
    private long _promptTokens;
    private long _generationTokens;
    private readonly ConcurrentDictionary<string, long> _finished = new(StringComparer.Ordinal);

    public void ObserveTimeToFirstToken(TimeSpan t) => _ttft.Observe(t.TotalSeconds);
    public void ObserveInterTokenLatency(TimeSpan t) => _itl.Observe(t.TotalSeconds);

    public void ObserveFinished(string reason, int promptTokens, int generationTokens, TimeSpan e2e)
    {
        Interlocked.Add(ref _promptTokens, promptTokens);
        Interlocked.Add(ref _generationTokens, generationTokens);
        _finished.AddOrUpdate(reason, 1, (_, c) => c + 1);
        _e2e.Observe(e2e.TotalSeconds);
    }

    public long PromptTokens => Interlocked.Read(ref _promptTokens);
    public long GenerationTokens => Interlocked.Read(ref _generationTokens);

    public string Render(BackendStats stats, string modelName)
    {
        string labels = $"model_name=\"{Escape(modelName)}\"";
        var sb = new StringBuilder();
        Gauge(sb, "qwensharp:num_requests_running", "Number of requests in model execution batches.", labels, stats.Running);
        Gauge(sb, "qwensharp:num_requests_waiting", "Number of requests waiting to be processed.", labels, stats.Waiting);
        Gauge(sb, "qwensharp:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", labels, stats.KvCacheUsage);
        Counter(sb, "qwensharp:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.", labels, stats.PrefixCacheQueries);
        Counter(sb, "qwensharp:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.", labels, stats.PrefixCacheHits);
        Counter(sb, "qwensharp:prompt_tokens_total", "Number of prefill tokens processed.", labels, PromptTokens);
        Counter(sb, "qwensharp:generation_tokens_total", "Number of generation tokens processed.", labels, GenerationTokens);
        sb.Append("# HELP qwensharp:request_success_total Count of successfully processed requests.\n");
        sb.Append("# TYPE qwensharp:request_success_total counter\n");
        foreach (var (reason, count) in _finished.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            sb.Append("qwensharp:request_success_total{").Append(labels).Append(",finished_reason=\"").Append(Escape(reason)).Append("\"} ").Append(count).Append('\n');
        _ttft.Write(sb, labels);
        _itl.Write(sb, labels);
        _e2e.Write(sb, labels);
        return sb.ToString();
    }

    private static void Gauge(StringBuilder sb, string name, string help, string labels, double value) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(" gauge\n")
          .Append(name).Append('{').Append(labels).Append("} ").Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');

    private static void Counter(StringBuilder sb, string name, string help, string labels, long value) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(" counter\n")
          .Append(name).Append('{').Append(labels).Append("} ").Append(value).Append('\n');

    // Prometheus label values escape backslash, double quote and newline.
    private static string Escape(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
