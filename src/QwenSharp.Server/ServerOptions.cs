namespace QwenSharp.Server;

/// <summary>`qwensharp serve` options, named after vLLM's `vllm serve` flags.</summary>
public sealed record ServerOptions
{
    /// <summary>A model folder, GGUF file or hub name (--model).</summary>
    public string Model { get; init; } = "";
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port (tests); vLLM's default is 8000.</summary>
    public int Port { get; init; } = 8000;
    /// <summary>--served-model-name: every name the model answers to; empty means the backend's own name.</summary>
    public IReadOnlyList<string> ServedModelNames { get; init; } = [];
    /// <summary>--api-key or QWENSHARP_API_KEY: when set, every route but /health needs `Authorization: Bearer key`.</summary>
    public string? ApiKey { get; init; }
    public int? MaxModelLen { get; init; }
    public int? MaxNumSeqs { get; init; }
    /// <summary>--max-num-batched-tokens: decode tokens plus prompt chunks computed in one step;
    /// <see cref="DefaultMaxNumBatchedTokens"/> when null.</summary>
    public int? MaxNumBatchedTokens { get; init; }

    /// <summary>The server's step size. Every running stream waits for the whole step, so a long one stalls them all
    /// while prompts arrive: with 16 clients joining at once (0.5B Q8_0, 2 threads) the p99 gap between tokens was
    /// 874–908 ms at 512 tokens a step, 468–480 ms at 256 and 258–285 ms at 128, at the same tokens/s; one 2,048-token
    /// prompt took 1% longer in chunks of 256 than of 512, 3–6% in chunks of 128 (docs/benchmarks.md).</summary>
    public const int DefaultMaxNumBatchedTokens = 256;
    /// <summary>--block-size: token slots per KV-cache block (the engine's default when null).</summary>
    public int? BlockSize { get; init; }
    /// <summary>--enable-prefix-caching / --no-enable-prefix-caching (on by default, as in vLLM V1).</summary>
    public bool EnablePrefixCaching { get; init; } = true;
    /// <summary>Bytes of KV cache, from VLLM_CPU_KVCACHE_SPACE (GiB, vLLM's CPU backend's setting); null: what free memory
    /// leaves after the weights (<see cref="QwenSharp.Engine.MemoryPlan"/>).</summary>
    public long? KvCacheBytes { get; init; }
    /// <summary>--kv-cache-dtype: how keys and values are stored (f16 by default).</summary>
    public QwenSharp.Tensors.KvCacheType KvCacheType { get; init; } = QwenSharp.Tensors.KvCacheType.F16;
    /// <summary>How a model whose config has YaRN picks each sequence's rotary table (--rope-scaling-mode).</summary>
    public QwenSharp.Model.RopeScalingMode RopeScalingMode { get; init; } = QwenSharp.Model.RopeScalingMode.LengthAware;
    /// <summary>--chat-template: a Jinja file replacing the model's own template.</summary>
    public string? ChatTemplate { get; init; }
    /// <summary>--generation-config: "auto" takes sampling defaults from generation_config.json, "vllm" uses vLLM's.</summary>
    public string GenerationConfig { get; init; } = "auto";
    /// <summary>--allowed-origins: CORS stays off unless given; "*" allows any origin.</summary>
    public IReadOnlyList<string> AllowedOrigins { get; init; } = [];
    /// <summary>--allowed-hosts: Host header values served besides loopback names and addresses while the server
    /// listens on a loopback address (DNS-rebinding protection, as Ollama after CVE-2024-28224); "*" allows any.</summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];
    /// <summary>--max-request-bytes: the largest request body; a larger one is answered 413 before it is read.</summary>
    public long MaxRequestBytes { get; init; } = DefaultMaxRequestBytes;
    public const long DefaultMaxRequestBytes = 8L << 20;
    /// <summary>--max-waiting-requests: generation requests accepted beyond --max-num-seqs to wait for a place;
    /// more are answered 429 with Retry-After (Ollama's OLLAMA_MAX_QUEUE answers 503).</summary>
    public int MaxWaitingRequests { get; init; } = DefaultMaxWaitingRequests;
    public const int DefaultMaxWaitingRequests = 256;
}
