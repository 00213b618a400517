using Microsoft.Extensions.AI;

namespace QwenSharp.Generation;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="ChatOptions"/> as sampling parameters, for an <c>IChatClient</c>:
/// Temperature, TopP, TopK, MaxOutputTokens, StopSequences, Seed, FrequencyPenalty and PresencePenalty map to
/// their vLLM namesakes; vLLM-only controls may come through AdditionalProperties under vLLM's names
/// (min_p, repetition_penalty, min_tokens, ignore_eos). Unset options stay unset, so the model's
/// generation_config.json still supplies them on <see cref="SamplingParams.Resolve"/>.
/// </summary>
public static class ChatOptionsSampling
{
    public static SamplingParams ToSamplingParams(this ChatOptions? options)
    {
        if (options is null) return new SamplingParams();
        var extra = options.AdditionalProperties;
        return new SamplingParams
        {
            Temperature = Widen(options.Temperature),
            TopP = Widen(options.TopP),
            TopK = options.TopK,
            MaxTokens = options.MaxOutputTokens,
            Stop = options.StopSequences is { Count: > 0 } stop ? [.. stop] : null,
            Seed = options.Seed,
            FrequencyPenalty = Widen(options.FrequencyPenalty),
            PresencePenalty = Widen(options.PresencePenalty),
            MinP = extra is not null && extra.TryGetValue("min_p", out double minP) ? minP : null,
            RepetitionPenalty = extra is not null && extra.TryGetValue("repetition_penalty", out double repetition) ? repetition : null,
            MinTokens = extra is not null && extra.TryGetValue("min_tokens", out int minTokens) ? minTokens : null,
            IgnoreEos = extra is not null && extra.TryGetValue("ignore_eos", out bool ignoreEos) ? ignoreEos : null,
        };
    }

    /// <summary>
    /// float to double through decimal, so that 0.7f reports as 0.7 rather than 0.699999988079071;
    /// NaN and infinities pass through for <see cref="SamplingParams.Resolve"/> to refuse.
    /// </summary>
    private static double? Widen(float? value) => value switch
    {
        null => null,
        float v when float.IsFinite(v) => (double)(decimal)v,
        float v => v,
    };
}
