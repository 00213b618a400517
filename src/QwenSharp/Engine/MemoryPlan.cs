using System.Globalization;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Engine;

/// <summary>
/// What a model needs in memory before it loads: its weights (memory-mapped, so resident once touched: the file's
/// bytes), the KV cache and the forward pass's scratch, against what the machine has free. Like vLLM's start-up
/// profile, it sizes the KV cache from what is left after the weights (not a fixed amount), and reports the KV budget
/// in tokens and GiB and the maximum concurrency for requests of the full context; unlike a failure half-way through
/// loading, a plan that cannot fit is refused up front with its numbers (<see cref="MemoryPlanException"/>).
/// </summary>
public sealed record MemoryPlan
{
    /// <summary>Memory kept free beside the plan: a tenth of what is available, at least 512 MiB (the runtime, the
    /// tokenizer, the HTTP stack and the page cache's working set are not counted elsewhere).</summary>
    public static long Margin(long available) => Math.Max(512L << 20, available / 10);

    /// <summary>The KV budget when nothing says otherwise and free memory cannot be read (not Linux).</summary>
    public const long FallbackKvBytes = 2L << 30;

    public required KvCacheType Type { get; init; }
    public required long WeightBytes { get; init; }
    public required long KvBytesPerToken { get; init; }
    public required long ScratchBytes { get; init; }
    /// <summary>MemAvailable from /proc/meminfo, or null where it cannot be read.</summary>
    public required long? AvailableBytes { get; init; }
    /// <summary>The model's context (<see cref="Qwen2Config.ContextLength"/>).</summary>
    public required int ModelContext { get; init; }
    /// <summary>The context of one sequence the engine will serve.</summary>
    public required int MaxModelLen { get; init; }
    /// <summary>Token slots of the KV cache (whole blocks).</summary>
    public required long KvTokens { get; init; }
    /// <summary>Where the budget came from: "free memory", "VLLM_CPU_KVCACHE_SPACE", a caller's figure…</summary>
    public required string BudgetSource { get; init; }

    public long KvBytes => KvTokens * KvBytesPerToken;
    public long TotalBytes => WeightBytes + KvBytes + ScratchBytes;
    /// <summary>Requests of the full context the cache holds at once (vLLM's "Maximum concurrency for N tokens per request").</summary>
    public double MaxConcurrency => (double)KvTokens / MaxModelLen;

    /// <summary>
    /// Plans <paramref name="options"/> for a model: an explicit <see cref="EngineOptions.KvCacheBytes"/> is the budget;
    /// otherwise the budget is what <paramref name="available"/> leaves after weights, scratch and <see cref="Margin"/>,
    /// capped at max_num_seqs full contexts (more could never be used). Throws <see cref="MemoryPlanException"/> when one
    /// sequence of the requested context does not fit, naming every figure.
    /// </summary>
    public static MemoryPlan Make(Qwen2Config config, long weightBytes, EngineOptions options, long? available, string? budgetSource = null)
    {
        var type = options.KvCacheType;
        if (type.Refusal(config.HeadDim) is { } refusal) throw new MemoryPlanException(refusal);
        long perToken = KvCache.BytesPerToken(config, type);
        int context = config.ContextLength;
        int requested = options.MaxModelLen ?? context;
        long scratch = Scratch(config, options.MaxNumBatchedTokens, Math.Max(options.MaxNumSeqs, 1), requested, Environment.ProcessorCount);
        long blockBytes = perToken * options.BlockSize;
        long kvBytes;
        string source;
        if (options.KvCacheBytes is { } budget)
        {
            kvBytes = budget;
            source = budgetSource ?? "the configured KV cache size";
        }
        else if (available is { } free)
        {
            long left = free - weightBytes - scratch - Margin(free);
            long wanted = (long)requested * Math.Max(options.MaxNumSeqs, 1) * perToken;
            kvBytes = Math.Max(0, Math.Min(left, wanted));
            source = "free memory";
        }
        else
        {
            kvBytes = FallbackKvBytes;
            source = "the default KV cache size";
        }
        long tokens = kvBytes / blockBytes * options.BlockSize;
        // A caller's figure gets the engine's floor of one context of up to 4096 tokens, as it always has.
        if (options.KvCacheBytes != null)
            tokens = Math.Max(tokens, (Math.Min(requested, 4096) + options.BlockSize - 1) / options.BlockSize * options.BlockSize);
        int maxModelLen = options.MaxModelLen ?? (int)Math.Min(context, tokens);
        var plan = new MemoryPlan
        {
            Type = type, WeightBytes = weightBytes, KvBytesPerToken = perToken, ScratchBytes = scratch, AvailableBytes = available,
            ModelContext = context, MaxModelLen = Math.Max(maxModelLen, 1), KvTokens = tokens, BudgetSource = source,
        };
        if (maxModelLen < 1 || tokens < maxModelLen)
        {
            long need = (long)requested * perToken;
            string fits = tokens >= options.BlockSize ? $"; the largest context that fits is {tokens} tokens" : "";
            if (available is { } free2 && options.KvCacheBytes == null && weightBytes + scratch + Margin(free2) > free2)
                fits += "; the weights alone exceed the memory available: to run them from the memory map (read from disk as each step needs them), give the KV cache an explicit size (VLLM_CPU_KVCACHE_SPACE)";
            throw new MemoryPlanException(FormattableString.Invariant(
                $"A context of {requested} tokens needs {Gib(need)} GiB of {type.Name()} KV cache ({perToken} bytes per token), but {source} leaves {Gib(kvBytes)} GiB ({tokens} tokens){Breakdown(plan)}{fits}. Lower --max-model-len, choose a narrower --kv-cache-dtype or free memory."));
        }
        // Memory-mapped weights need not all be resident (pages are read from the file as a step touches them, as
        // llama.cpp runs a model larger than memory), so an explicit budget is refused only when the memory that must be
        // resident, the KV cache and scratch, cannot fit; weights beyond what is left are stated by Describe.
        if (available is { } a && options.KvCacheBytes != null && plan.KvBytes + scratch + Margin(a) > a)
            throw new MemoryPlanException(FormattableString.Invariant(
                $"The model needs weights {Gib(weightBytes)} GiB + KV cache {Gib(plan.KvBytes)} GiB ({tokens} tokens of {type.Name()}) + scratch {Gib(scratch)} GiB = {Gib(plan.TotalBytes)} GiB, plus a margin of {Gib(Margin(a))} GiB; the machine has {Gib(a)} GiB available. Lower {source}, choose a narrower --kv-cache-dtype or free memory."));
        return plan;
    }

    /// <summary>The forward pass's buffers for a step of <paramref name="tokens"/> tokens (activations, a MoE layer's
    /// routing and expert rows, a logits row per sequence, quantized activation copies) and each thread's attention
    /// scratch: a decode token's scores for one context ([group, context]), a prefill tile's fixed scratch and a block of
    /// widened rows (nothing else grows with the context: the tiles' softmax is online): an estimate from the shapes,
    /// rounded up by a quarter.</summary>
    public static long Scratch(Qwen2Config c, int tokens, int sequences, int context, int threads)
    {
        long q = (long)c.NumAttentionHeads * c.HeadDim, kv = c.KeyValueSize;
        long perToken = 4 * c.HiddenSize + 2 * q + 2 * kv + 2L * c.IntermediateSize + c.HeadDim + MoePerToken(c);
        long activations = (long)tokens * perToken * sizeof(float) + (long)tokens * Math.Max(c.HiddenSize, c.IntermediateSize) * 2;
        long logits = (long)Math.Max(sequences, 1) * c.VocabSize * sizeof(float);
        int group = c.NumAttentionHeads / Math.Max(c.NumKeyValueHeads, 1);
        long attention = (long)threads * ((long)group * context + Kernels.AttentionTile.ScratchFloats(c.HeadDim) + 256L * c.HeadDim) * sizeof(float);
        return (activations + logits + attention) * 5 / 4;
    }

    /// <summary>Values a token adds in a MoE layer's buffers (Model/MoeFeedForward.cs): its router scores, top-k choices and
    /// weights, and per chosen expert its gathered row and gate/up activations; the shared expert's gate/up.</summary>
    public static long MoePerToken(Qwen2Config c) => !c.IsMoe ? 0
        : (c.NumExperts ?? 0) + (long)(c.NumExpertsPerTok ?? 0) * (c.HiddenSize + 2L * (c.MoeIntermediateSize ?? 0) + 4)
          + 2L * (c.SharedExpertIntermediateSize ?? 0);

    /// <summary>MemAvailable from /proc/meminfo in bytes, or null where there is none (not Linux) or it cannot be read.</summary>
    public static long? AvailableMemory()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return long.Parse(parts[1], CultureInfo.InvariantCulture) * 1024;
                }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        catch (FormatException) { }
        return null;
    }

    /// <summary>Whether the weights do not fit in what the KV cache, scratch and margin leave of the available memory:
    /// they then run from the memory map, read from the file as each step touches them, so the disk bounds the speed.</summary>
    public bool WeightsExceedMemory => AvailableBytes is { } a && TotalBytes + Margin(a) > a;

    /// <summary>The plan as vLLM's start-up lines put it, plus the memory sum.</summary>
    public IEnumerable<string> Describe()
    {
        string of = AvailableBytes is { } a ? $" of {Gib(a)} GiB available" : "";
        yield return FormattableString.Invariant(
            $"Memory: weights {Gib(WeightBytes)} GiB + KV cache {Gib(KvBytes)} GiB + scratch {Gib(ScratchBytes)} GiB = {Gib(TotalBytes)} GiB{of} (KV budget from {BudgetSource})");
        yield return string.Create(CultureInfo.InvariantCulture,
            $"KV cache: {Type.Name()}, {KvBytesPerToken} bytes per token; KV cache size: {KvTokens:N0} tokens ({Gib(KvBytes)} GiB)");
        yield return string.Create(CultureInfo.InvariantCulture,
            $"Maximum concurrency for {MaxModelLen:N0} tokens per request: {MaxConcurrency:F2}x (model context {ModelContext:N0})");
        if (WeightsExceedMemory && AvailableBytes is { } left)
            yield return FormattableString.Invariant(
                $"Weights: {Gib(WeightBytes)} GiB do not fit the {Gib(Math.Max(0, left - KvBytes - ScratchBytes - Margin(left)))} GiB left after the KV cache, scratch and margin: they run from the memory map, read from the file as each step needs them, so the disk bounds the speed");
    }

    private static string Breakdown(MemoryPlan p) => p.AvailableBytes is { } a && p.BudgetSource == "free memory"
        ? string.Create(CultureInfo.InvariantCulture,
            $" ({Gib(a)} GiB available − weights {Gib(p.WeightBytes)} GiB − scratch {Gib(p.ScratchBytes)} GiB − margin {Gib(Margin(a))} GiB)")
        : "";

    internal static string Gib(long bytes) => (bytes / (double)(1L << 30)).ToString("F2", CultureInfo.InvariantCulture);
}

/// <summary>A model and its options do not fit the machine's memory; the message has the numbers.</summary>
public sealed class MemoryPlanException(string message) : Exception(message);
