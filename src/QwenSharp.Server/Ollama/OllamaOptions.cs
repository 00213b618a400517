using QwenSharp.Server.OpenAi;

namespace QwenSharp.Server.Ollama;

/// <summary>
/// Ollama's `options` object mapped onto the sampling fields (github.com/ollama/ollama docs/api.md, "valid parameters
/// and values"). Options that only tune Ollama's own runtime (threads, GPU layers, mmap…) do not change the
/// output and are accepted; sampling options QwenSharp does not implement (mirostat, typical_p, tfs_z,
/// repeat_last_n…) are refused by name rather than ignored, as is a num_ctx the model cannot hold.
/// </summary>
public static class OllamaOptions
{
    private static readonly string[] RuntimeOnly =
        ["num_thread", "num_gpu", "main_gpu", "use_mmap", "use_mlock", "num_batch", "low_vram", "f16_kv", "vocab_only", "numa", "num_keep"];

    public sealed record Result(SamplingRequest Sampling, int? ContextLimit);

    public static Result Read(RequestFields? options)
    {
        if (options == null) return new Result(new SamplingRequest(), null);
        foreach (var name in RuntimeOnly) options.Raw(name);
        int? numPredict = options.Int("num_predict");
        if (numPredict == 0)
            throw ApiException.BadRequest("'options.num_predict' must be at least 1, or -1 for no limit, got 0.", "options.num_predict");
        int? numCtx = options.Int("num_ctx", 1);
        var stop = SamplingRequest.CheckStops(options.StringOrStrings("stop"), options.Name("stop"));
        var sampling = new SamplingRequest
        {
            MaxTokens = numPredict is > 0 ? numPredict : null, // -1 and -2 mean "until the context is full"
            MaxTokensParam = "options.num_predict",
            Temperature = options.Number("temperature", 0),
            TopK = options.Int("top_k", -1),
            TopP = options.Number("top_p", 0, 1, minExclusive: true),
            MinP = options.Number("min_p", 0, 1),
            Seed = options.Long("seed"),
            Stop = stop,
            RepetitionPenalty = options.Number("repeat_penalty", 0, minExclusive: true),
            PresencePenalty = options.Number("presence_penalty", -2, 2),
            FrequencyPenalty = options.Number("frequency_penalty", -2, 2),
        };
        options.RejectUnread();
        return new Result(sampling, numCtx);
    }
}
