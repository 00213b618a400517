using QwenSharp.Engine;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Cli;

/// <summary>
/// The memory plan of a command that runs one context at a time (generate, chat, bench, perplexity): the KV cache holds
/// exactly one context of the given length rather than a server's budget. Made from the file's config before the
/// weights load, so a context that cannot fit is refused with the numbers instead of failing later.
/// </summary>
internal static class OneContextPlan
{
    /// <summary>The engine options and the plan for one sequence of <paramref name="length"/> tokens; throws
    /// <see cref="MemoryPlanException"/> naming weights, KV cache and scratch when they do not fit free memory.</summary>
    public static (EngineOptions Options, MemoryPlan Plan) Make(string path, int length, KvCacheType kvType, string flag, TextWriter? log)
    {
        Qwen2Config config;
        var (weights, c) = ModelFiles.Open(path);
        using (weights) config = c;
        long bytesPerToken = KvCache.BytesPerToken(config, kvType);
        var options = new EngineOptions
        {
            MaxModelLen = length, MaxNumSeqs = 1, KvCacheBytes = bytesPerToken * (length + 16), KvCacheType = kvType,
        };
        var plan = MemoryPlan.Make(config, ModelFiles.WeightBytes(path), options, MemoryPlan.AvailableMemory(), flag);
        if (log != null) foreach (var line in plan.Describe()) log.WriteLine(line);
        return (options, plan);
    }

    /// <summary>The model's context as its config states it, read without loading the weights.</summary>
    public static int ModelContext(string path)
    {
        var (weights, config) = ModelFiles.Open(path);
        using (weights) return config.ContextLength;
    }
}
