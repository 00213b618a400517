using QwenSharp.Engine;
using QwenSharp.Hub;

namespace QwenSharp.Server.Backend;

/// <summary>Creates the backend `qwensharp serve` runs on: the one place that connects the server to the engine.</summary>
public static class ModelBackendFactory
{
    /// <summary>Plans memory (printing the plan through <paramref name="log"/>, refusing with its numbers a model that cannot
    /// fit: <see cref="MemoryPlanException"/>) and then loads the model.</summary>
    public static IModelBackend Create(ServerOptions options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        string path = File.Exists(options.Model) || Directory.Exists(options.Model)
            ? options.Model
            : ModelLocator.Locate(options.Model, HubOptions.FromEnvironment(), DownloadProgressPrinter.ForConsoleError()).Path;
        var defaults = new EngineOptions();
        var engine = new EngineOptions
        {
            MaxModelLen = options.MaxModelLen,
            MaxNumSeqs = options.MaxNumSeqs ?? defaults.MaxNumSeqs,
            MaxNumBatchedTokens = options.MaxNumBatchedTokens ?? ServerOptions.DefaultMaxNumBatchedTokens,
            BlockSize = options.BlockSize ?? defaults.BlockSize,
            EnablePrefixCaching = options.EnablePrefixCaching,
            KvCacheBytes = options.KvCacheBytes,
            KvCacheType = options.KvCacheType,
            RopeScalingMode = options.RopeScalingMode,
            CommitKvCache = true,
        };
        var plan = LoadedModel.Plan(path, engine, MemoryPlan.AvailableMemory(), options.KvCacheBytes != null ? "VLLM_CPU_KVCACHE_SPACE" : null);
        if (log != null) foreach (var line in plan.Describe()) log(line);
        var model = LoadedModel.Load(path, engine, options.ChatTemplate, useGenerationConfig: options.GenerationConfig != "vllm", plan: plan);
        return new LoadedModelBackend(model, options.Model);
    }
}
