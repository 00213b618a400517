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
    /// <summary>On the last event of a model whose config has YaRN: the rotary table the sequence ran under; null otherwise.</summary>
    public RopeReport? Rope { get; init; }
}

/// <summary>Counters for metrics: what the engine is doing now and has done.</summary>
public sealed record EngineStats(int Running, int Waiting, double KvUsage, long PrefixQueriedTokens, long PrefixHitTokens,
    long PromptTokens, long GeneratedTokens, long Preemptions, long Steps)
{
    /// <summary>Sequences recomputed under YaRN after growing past original_max_position_embeddings (length-aware mode).</summary>
    public long RopeRecomputes { get; init; }
}
