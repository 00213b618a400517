using QwenSharp.Generation.Stages;

namespace QwenSharp.Generation;

/// <summary>The stages of the processor chain, named so that their order can be written down as data.</summary>
public enum SamplingStageKind
{
    RepetitionPenalty,
    PresenceFrequencyPenalty,
    LogitBias,
    MinTokens,
    Temperature,
    TopK,
    TopP,
    MinP,
}

/// <summary>
/// The processor chain of one sequence, built from resolved parameters: the stages of <see cref="Order"/>
/// that change anything, then greedy or random choice. Greedy sampling stops after the stages that can move
/// the argmax (penalties, bias, min_tokens): temperature, top-k, top-p and min-p cannot, as vLLM notes.
/// </summary>
public sealed class SamplingPipeline
{
    /// <summary>
    /// The chain's order: penalties, logit_bias, min_tokens, temperature, top-k, top-p, min-p, then sampling.
    /// (vLLM v1 applies min_tokens and logit_bias before the penalties and min-p before top-k/top-p; with the
    /// multiplicative repetition penalty and renormalised top-p this order can pick different tokens at the margin.)
    /// </summary>
    public static IReadOnlyList<SamplingStageKind> Order { get; } =
    [
        SamplingStageKind.RepetitionPenalty,
        SamplingStageKind.PresenceFrequencyPenalty,
        SamplingStageKind.LogitBias,
        SamplingStageKind.MinTokens,
        SamplingStageKind.Temperature,
        SamplingStageKind.TopK,
        SamplingStageKind.TopP,
        SamplingStageKind.MinP,
    ];

    private readonly ILogitsStage[] _stages;
    private readonly SamplingScratch _scratch;

    public SamplingPipeline(ResolvedSamplingParams parameters, SamplingScratch? scratch = null, IReadOnlyList<SamplingStageKind>? order = null)
    {
        Parameters = parameters;
        _scratch = scratch ?? new SamplingScratch();
        var stages = new List<ILogitsStage>();
        foreach (var kind in order ?? Order)
            if (Create(kind, parameters, _scratch) is { } stage) stages.Add(stage);
        _stages = [.. stages];
    }

    public ResolvedSamplingParams Parameters { get; }

    /// <summary>The stages that will run, in order (those that would change nothing are left out).</summary>
    public IReadOnlyList<ILogitsStage> Stages => _stages;

    /// <summary>Runs the stages over <paramref name="logits"/> (in place) and returns the chosen id.</summary>
    public int Choose(Span<float> logits, TokenHistory history, Xoshiro256StarStar random)
    {
        foreach (var stage in _stages) stage.Apply(logits, history);
        if (Parameters.IsGreedy) return TokenSampler.Greedy(logits);
        _scratch.EnsureCapacity(logits.Length);
        return TokenSampler.Sample(logits, random, _scratch.Values.AsSpan(0, logits.Length));
    }

    private static ILogitsStage? Create(SamplingStageKind kind, ResolvedSamplingParams p, SamplingScratch scratch)
    {
        bool greedy = p.IsGreedy;
        return kind switch
        {
            SamplingStageKind.RepetitionPenalty when p.RepetitionPenalty != 1.0 => new RepetitionPenaltyStage((float)p.RepetitionPenalty),
            SamplingStageKind.PresenceFrequencyPenalty when p.PresencePenalty != 0 || p.FrequencyPenalty != 0 =>
                new PresenceFrequencyPenaltyStage((float)p.PresencePenalty, (float)p.FrequencyPenalty),
            SamplingStageKind.LogitBias when p.LogitBias.Count > 0 => new LogitBiasStage(p.LogitBias),
            SamplingStageKind.MinTokens when p.MinTokens > 0 => new MinTokensStage(p.MinTokens, [.. p.EosTokenIds.Union(p.StopTokenIds)]),
            SamplingStageKind.Temperature when !greedy && p.Temperature != 1.0 => new TemperatureStage((float)p.Temperature),
            SamplingStageKind.TopK when !greedy && p.TopK > 0 => new TopKStage(p.TopK, scratch),
            SamplingStageKind.TopP when !greedy && p.TopP < 1.0 => new TopPStage((float)p.TopP, scratch),
            SamplingStageKind.MinP when !greedy && p.MinP > 0 => new MinPStage((float)p.MinP),
            _ => null,
        };
    }
}
