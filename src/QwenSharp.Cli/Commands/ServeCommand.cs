using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using QwenSharp.Server;
using QwenSharp.Server.Backend;

namespace QwenSharp.Cli.Commands;

/// <summary>
/// `qwensharp serve`: a drop-in for `python -m vllm.entrypoints.openai.api_server` (same flags, same routes),
/// with Ollama's API beside it. Ctrl+C or SIGTERM stops it gracefully: in-flight generations are cancelled and
/// their clients told why.
/// </summary>
public sealed class ServeCommand : ICliCommand
{
    public string Name => "serve";
    public string Summary => "Serve a model over an OpenAI-compatible (vLLM-style) and Ollama HTTP API";
    public IReadOnlyList<string> Flags => ["--enable-prefix-caching", "--no-enable-prefix-caching"];

    public string Usage => """
        qwensharp serve --model <folder|file.gguf|hub name> [options]
          --host H                 address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
          --port P                 port (default 8000)
          --served-model-name N    name(s) clients use for the model (repeatable; default: the --model value)
          --api-key K              require 'Authorization: Bearer K' on every route but /health (or QWENSHARP_API_KEY)
          --max-model-len L        context length per sequence (default: the model's)
          --max-num-seqs S         sequences run together per step (default: the engine's)
          --max-num-batched-tokens N  tokens computed per step, decode tokens plus prompt chunks (default 256; at
                                   least --max-num-seqs): smaller keeps running streams smoother while prompts arrive
          --block-size B           token slots per KV-cache block: 1, 8, 16, 32, 64 or 128 (default 16)
          --kv-cache-dtype T       KV cache type: f16 (default), bf16, q8_0 or f32 (llama.cpp's -ctk/-ctv); vLLM's
                                   auto (= f16), fp16, bfloat16 and fp32 are read too (fp8 is not supported)
          --rope-scaling-mode M    with YaRN in the config: length-aware (default: plain RoPE for a sequence whose
                                   prompt + max_tokens fits original_max_position_embeddings, YaRN from the first token
                                   for a longer one; one without max_tokens is recomputed once under YaRN when it grows
                                   past) or static (YaRN for every sequence, as vLLM); responses report it in
                                   sampling_params.rope_scaling
          --no-enable-prefix-caching  recompute every prompt (prefix caching is on by default; --enable-prefix-caching)
          --chat-template F        a Jinja chat template file replacing the model's own
          --generation-config M    'auto' (sampling defaults from generation_config.json) or 'vllm' (vLLM's defaults)
          --allowed-origins O      enable CORS for these origins (repeatable, comma list or JSON list; '*' for any)
          --allowed-hosts H        Host names served besides localhost and loopback addresses while listening on
                                   loopback (repeatable, comma list; '*' for any): DNS-rebinding protection
          --max-request-bytes N    largest request body (default 8388608 = 8 MiB); larger ones get 413
          --max-waiting-requests N generation requests queued beyond --max-num-seqs (default 256); more get 429
        Memory: the plan (weights + KV cache + scratch against MemAvailable) is printed before loading, and refused with
        its numbers when it cannot fit. The KV cache takes what free memory leaves after the weights (at most
        --max-num-seqs full contexts); VLLM_CPU_KVCACHE_SPACE=G sets it to G GiB instead, as for vLLM's CPU backend.
        The context defaults to the model's: max_position_embeddings, or with YaRN in rope_scaling,
        original_max_position_embeddings × factor (as vLLM derives it).
        Routes: /v1/chat/completions, /v1/completions, /v1/models, /tokenize, /detokenize, /health, /version,
        /metrics, and Ollama's /api/chat, /api/generate, /api/tags, /api/show, /api/version.
        """;

    public int Run(CliArgs args, TextWriter stdout, TextWriter stderr)
    {
        var options = ReadOptions(args);
        var backend = ModelBackendFactory.Create(options, stdout.WriteLine);
        var app = QwenServer.Build(options, backend);
        app.Lifetime.ApplicationStarted.Register(() =>
            stdout.WriteLine($"Serving {string.Join(", ", options.ServedModelNames.DefaultIfEmpty(backend.ModelName))} " +
                $"(max model length {backend.MaxModelLength}, {QwenSharp.Kernels.KernelTiers.Describe()}) on {string.Join(", ", app.Urls)}"));
        try
        {
            app.Run();
        }
        finally
        {
            (backend as IDisposable)?.Dispose();
        }
        // The engine died: the server stopped itself; a non-zero exit lets a supervisor restart it.
        if (backend.Failure is { } failure)
        {
            stderr.WriteLine(failure);
            return 3;
        }
        return 0;
    }

    /// <summary>The command line → <see cref="ServerOptions"/>, refusing unknown options and bad values.</summary>
    public static ServerOptions ReadOptions(CliArgs args)
    {
        string model = args.Get("--model") ?? args.Positional.FirstOrDefault()
            ?? throw new CliException("Option --model is required (a model folder, a .gguf file or a hub name).");
        string host = args.Get("--host") ?? "127.0.0.1";
        int port = args.GetInt("--port", 8000, 0, 65535);
        var names = args.GetAll("--served-model-name").SelectMany(SplitList).ToList();
        string? apiKey = args.Get("--api-key") ?? Environment.GetEnvironmentVariable("QWENSHARP_API_KEY");
        int maxModelLen = args.GetInt("--max-model-len", 0, 1);
        int maxNumSeqs = args.GetInt("--max-num-seqs", 0, 1, 4096);
        int maxBatched = args.GetInt("--max-num-batched-tokens", 0, 1, 1 << 20);
        if (maxBatched > 0 && maxBatched < Math.Max(maxNumSeqs, 1))
            throw new CliException($"Option --max-num-batched-tokens ({maxBatched}) must be at least --max-num-seqs ({maxNumSeqs}), so every running sequence can decode in each step.");
        int blockSize = args.GetInt("--block-size", 0, 1, 128);
        if (blockSize > 0 && blockSize is not (1 or 8 or 16 or 32 or 64 or 128))
            throw new CliException($"Option --block-size must be 1, 8, 16, 32, 64 or 128, got {blockSize}.");
        bool prefixOn = args.Flag("--enable-prefix-caching"), prefixOff = args.Flag("--no-enable-prefix-caching");
        if (prefixOn && prefixOff)
            throw new CliException("Options --enable-prefix-caching and --no-enable-prefix-caching contradict each other; give one.");
        long? kvCacheBytes = KvCacheSpace(Environment.GetEnvironmentVariable("VLLM_CPU_KVCACHE_SPACE"));
        var kvType = KvCacheOption.Read(args, vllm: true);
        var ropeMode = RopeScalingOption.Read(args);
        string? chatTemplate = args.Get("--chat-template");
        if (chatTemplate != null && !File.Exists(chatTemplate))
            throw new CliException($"Chat template file '{chatTemplate}' does not exist.");
        string generationConfig = args.Get("--generation-config") ?? "auto";
        if (generationConfig is not ("auto" or "vllm"))
            throw new CliException($"Option --generation-config must be 'auto' or 'vllm', got '{generationConfig}'.");
        var origins = args.GetAll("--allowed-origins").SelectMany(SplitList).ToList();
        var hosts = args.GetAll("--allowed-hosts").SelectMany(SplitList).ToList();
        long maxRequestBytes = args.GetLong("--max-request-bytes", ServerOptions.DefaultMaxRequestBytes, 1024, 1L << 30);
        int maxWaiting = args.GetInt("--max-waiting-requests", ServerOptions.DefaultMaxWaitingRequests, 0, 1 << 20);
        args.EnsureAllUsed();
        if (string.IsNullOrEmpty(apiKey) && apiKey != null)
            throw new CliException("Option --api-key must not be empty.");
        return new ServerOptions
        {
            Model = model,
            Host = host,
            Port = port,
            ServedModelNames = names,
            ApiKey = apiKey,
            MaxModelLen = maxModelLen > 0 ? maxModelLen : null,
            MaxNumSeqs = maxNumSeqs > 0 ? maxNumSeqs : null,
            MaxNumBatchedTokens = maxBatched > 0 ? maxBatched : null,
            BlockSize = blockSize > 0 ? blockSize : null,
            EnablePrefixCaching = !prefixOff,
            KvCacheBytes = kvCacheBytes,
            KvCacheType = kvType,
            RopeScalingMode = ropeMode,
            ChatTemplate = chatTemplate,
            GenerationConfig = generationConfig,
            AllowedOrigins = origins,
            AllowedHosts = hosts,
            MaxRequestBytes = maxRequestBytes,
            MaxWaitingRequests = maxWaiting,
        };
    }

    /// <summary>VLLM_CPU_KVCACHE_SPACE (GiB, as vLLM's CPU backend reads it) in bytes; null when unset or empty.</summary>
    public static long? KvCacheSpace(string? gib)
    {
        if (string.IsNullOrWhiteSpace(gib)) return null;
        if (!double.TryParse(gib, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double g)
            || !(g > 0) || g > 1 << 20)
            throw new CliException($"VLLM_CPU_KVCACHE_SPACE must be a positive number of GiB, got '{gib}'.");
        return (long)(g * (1L << 30));
    }

    /// <summary>"a,b", or a JSON list as vLLM takes for --allowed-origins ('["*"]').</summary>
    private static IEnumerable<string> SplitList(string value)
    {
        string v = value.Trim();
        if (v.StartsWith('['))
        {
            try { return JsonSerializer.Deserialize<string[]>(v) ?? []; }
            catch (JsonException) { throw new CliException($"'{value}' is not a JSON list of strings."); }
        }
        return v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }
}
