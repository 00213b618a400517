namespace QwenSharp.Model;

/// <summary>
/// Which rotary table each sequence runs under, on a model whose config has YaRN (<see cref="RopeScalingMode"/>).
/// Static: YaRN for every sequence, as vLLM. Length-aware: a sequence that fits within original_max_position_embeddings
/// (<see cref="Limit"/>) runs with plain RoPE, exactly as the weights without rope_scaling; a longer one with YaRN from its
/// first token; one whose length is open (max_tokens not asked for: the rest of the context) starts plain while its prompt
/// fits and, the step it grows past the limit, is recomputed once under YaRN (<see cref="MustRecompute"/>) and continues.
/// On a model without rope_scaling every sequence is <see cref="RopeMode.Yarn"/>, which is then plain RoPE.
/// </summary>
public sealed class RopePolicy
{
    public RopePolicy(RopeScaling? scaling, RopeScalingMode mode)
    {
        Mode = mode;
        HasYarn = scaling is { IsYarn: true };
        Limit = HasYarn && mode == RopeScalingMode.LengthAware ? scaling!.OriginalMaxPositionEmbeddings : null;
    }

    public RopeScalingMode Mode { get; }

    /// <summary>True when the config has YaRN: only then is there a choice (and something to report).</summary>
    public bool HasYarn { get; }

    /// <summary>Tokens a sequence may hold under plain RoPE (original_max_position_embeddings); null when every sequence runs
    /// under the config's table (static mode, or no rope_scaling).</summary>
    public int? Limit { get; }

    /// <summary>
    /// The table a new sequence starts under. <paramref name="openLength"/>: max_tokens was not asked for (it is the room left
    /// in the context), so the sequence's reach is unknown; it starts plain when its prompt and one token fit.
    /// </summary>
    public RopeMode Initial(int promptTokens, int maxTokens, bool openLength)
    {
        if (Limit is not int limit) return RopeMode.Yarn;
        long reach = openLength ? (long)promptTokens + 1 : (long)promptTokens + maxTokens;
        return reach <= limit ? RopeMode.Plain : RopeMode.Yarn;
    }

    /// <summary>The table for a sequence of exactly <paramref name="tokens"/> tokens, all known (a perplexity window).</summary>
    public RopeMode ForLength(int tokens) => Limit is int limit && tokens <= limit ? RopeMode.Plain : RopeMode.Yarn;

    /// <summary>True when a plain sequence now holding <paramref name="numTokens"/> tokens has grown past the limit: its next
    /// token would sit at a position plain RoPE does not cover, so it must be recomputed under YaRN before the next step.</summary>
    public bool MustRecompute(RopeMode current, int numTokens) => current == RopeMode.Plain && Limit is int limit && numTokens > limit;
}
