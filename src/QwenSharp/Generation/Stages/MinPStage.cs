namespace QwenSharp.Generation.Stages;

/// <summary>
/// min-p sampling (Nguyen et al. 2024) as vLLM: drop tokens whose probability is below min_p times the most
/// likely token's. The ratio p_i / p_max is exp(logit_i - logit_max), so no normalisation is needed.
/// </summary>
public sealed class MinPStage(float minP) : ILogitsStage
{
    public float MinP { get; } = minP;

    public void Apply(Span<float> logits, TokenHistory history)
    {
        float max = System.Numerics.Tensors.TensorPrimitives.Max(logits);
        if (!(max > float.NegativeInfinity)) return;
        for (int i = 0; i < logits.Length; i++)
            if (MathF.Exp(logits[i] - max) < MinP) logits[i] = float.NegativeInfinity;
    }
}
