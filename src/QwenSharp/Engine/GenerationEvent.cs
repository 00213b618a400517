using QwenSharp.Generation;

namespace QwenSharp.Engine;

/// <summary>
/// One step of one sequence as its consumer sees it: the sampled token, the text that became safe to show
/// (whole characters, never part of a stop string), and, on the last event, the finished result.
/// </summary>
public readonly record struct GenerationEvent(int TokenId, string TextDelta, TokenLogprob? Logprob, GenerationResult? Result)
{
    public bool IsFinal => Result is not null;
    /// <summary>Prompt tokens served from the prefix cache (OpenAI's usage.prompt_tokens_details.cached_tokens).</summary>
    public int CachedTokens { get; init; }
}

/// <summary>Counters for metrics: what the engine is doing now and has done.</summary>
public sealed record EngineStats(int Running, int Waiting, double KvUsage, long PrefixQueriedTokens, long PrefixHitTokens,
    long PromptTokens, long GeneratedTokens, long Preemptions, long Steps);
