using QwenSharp.Engine;
using QwenSharp.Formats;
using QwenSharp.Hub;
using QwenSharp.Model;
using QwenSharp.Text;

namespace QwenSharp.Server.Backend;

/// <summary>Creates the backend `qwensharp serve` runs on: the one place that connects the server to the engine.</summary>
public static class ModelBackendFactory
{
    /// <summary>Most bytes of KV cache to take by default (the engine's own default).</summary>
    private const long MaxKvCacheBytes = 2L << 30;

    /// <summary>
    /// Finds the model (a path, or a hub name through the Hub layer), loads weights, tokenizer and chat template
    /// (--chat-template replaces the model's, keeping its bos/eos texts), takes sampling defaults from
    /// generation_config.json unless --generation-config vllm, and starts the engine with --max-model-len and
    /// --max-num-seqs. The KV cache is sized for max-num-seqs sequences of the full length, at most 2 GiB.
    /// </summary>
    public static IModelBackend Create(ServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var located = ModelLocator.Locate(options.Model);
        var model = QwenSharp.Model.ModelFiles.Load(located.Path);
        try
        {
            var tokenizer = TokenizerLoader.Load(located.Path);
            var template = LoadTemplate(located, options.ChatTemplate);
            var generationConfig = options.GenerationConfig == "vllm" || located.IsGguf ? null : GenerationConfig.FromModelFolder(located.Path);
            var eos = new List<int>(model.Config.EosTokenIds);
            if (template.EosToken is { } eosText && tokenizer.TokenToId(eosText) is { } eosId && !eos.Contains(eosId)) eos.Add(eosId);

            var c = model.Config;
            int maxNumSeqs = options.MaxNumSeqs ?? new EngineOptions().MaxNumSeqs;
            long bytesPerToken = 2L * c.NumHiddenLayers * c.NumKeyValueHeads * c.HeadDim * sizeof(float);
            long wanted = bytesPerToken * (options.MaxModelLen ?? c.MaxPositionEmbeddings) * maxNumSeqs;
            var engine = new InferenceEngine(model, skip => new DetokenizerDecoder(tokenizer, skip), new EngineOptions
            {
                MaxModelLen = options.MaxModelLen,
                MaxNumSeqs = maxNumSeqs,
                KvCacheBytes = Math.Min(wanted, MaxKvCacheBytes),
            });
            var info = new BackendModelInfo(
                Family: "qwen2",
                Format: located.IsGguf ? "gguf" : "safetensors",
                ParameterSize: ParameterSize(c),
                QuantizationLevel: "",
                SizeBytes: SizeOnDisk(located.Path),
                ChatTemplate: options.ChatTemplate != null ? File.ReadAllText(options.ChatTemplate) : "");
            return new EngineBackend(engine, new ModelText(tokenizer, template, eos), generationConfig, options.Model, info);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static ChatTemplate LoadTemplate(LocatedModel located, string? path)
    {
        if (path == null) return ChatTemplate.FromModel(located.Path);
        (string? bos, string? eos) = (null, null);
        if (located.IsGguf)
        {
            using var gguf = GgufFile.Open(located.Path);
            (bos, eos) = ChatTemplate.ReadSpecialTokens(gguf);
        }
        else (bos, eos) = ChatTemplate.ReadSpecialTokens(located.Path);
        return ChatTemplate.Parse(File.ReadAllText(path), path, bos, eos);
    }

    /// <summary>Parameters counted from the shapes (embeddings, attention with q/k/v biases, MLP, norms, untied head),
    /// written as Ollama does ("494.03M", "7.62B").</summary>
    private static string ParameterSize(Qwen2Config c)
    {
        long h = c.HiddenSize, q = (long)c.NumAttentionHeads * c.HeadDim, kv = (long)c.NumKeyValueHeads * c.HeadDim;
        long layer = h * q + q + 2 * (h * kv + kv) + q * h + 3 * h * c.IntermediateSize + 2 * h;
        long total = (long)c.VocabSize * h * (c.TieWordEmbeddings ? 1 : 2) + c.NumHiddenLayers * layer + h;
        return total >= 1_000_000_000 ? $"{total / 1e9:0.##}B" : $"{total / 1e6:0.##}M";
    }

    private static long SizeOnDisk(string path) =>
        File.Exists(path) ? new FileInfo(path).Length
        : Directory.Exists(path) ? Directory.EnumerateFiles(path, "*.safetensors").Sum(f => new FileInfo(f).Length) : 0;
}
