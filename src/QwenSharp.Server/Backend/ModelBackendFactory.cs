using QwenSharp.Engine;
using QwenSharp.Hub;

namespace QwenSharp.Server.Backend;

/// <summary>Creates the backend `qwensharp serve` runs on: the one place that connects the server to the engine.</summary>
public static class ModelBackendFactory
{
    public static IModelBackend Create(ServerOptions options)
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
            KvCacheBytes = options.KvCacheBytes ?? defaults.KvCacheBytes,
            CommitKvCache = true,
        };
        var model = LoadedModel.Load(path, engine, options.ChatTemplate, useGenerationConfig: options.GenerationConfig != "vllm");
        return new LoadedModelBackend(model, options.Model);
    }
}
