namespace QwenSharp.Kernels;

/// <summary>
/// Rotary position embedding, NEOX style as Qwen2 uses it (transformers' <c>rotate_half</c>; llama.cpp's
/// LLAMA_ROPE_TYPE_NEOX): the pair of a head's dimension i is i + head_dim/2, not i + 1.
/// <para>
/// The angle of pair i at position p is p · inv_freq[i]; with YaRN, inv_freq blends interpolated and
/// extrapolated frequencies and cos/sin are scaled by an attention factor (<see cref="RopeFrequencies"/>).
/// </para>
/// </summary>
public static class Rope
{
    /// <summary>
    /// Fills the cos and sin tables for a batch of positions: <paramref name="cos"/> and <paramref name="sin"/>
    /// are [positions.Length, head_dim/2]. Angles are computed in double, the way an exact reference does.
    /// </summary>
    public static void FillTables(ReadOnlySpan<int> positions, RopeFrequencies freqs, Span<float> cos, Span<float> sin)
    {
        int half = freqs.InverseFrequencies.Length;
        if (cos.Length < positions.Length * half || sin.Length < positions.Length * half)
            throw new ArgumentException($"RoPE tables need {positions.Length * half} values, got {cos.Length} and {sin.Length}.");
        for (int t = 0; t < positions.Length; t++)
        {
            double p = positions[t];
            for (int i = 0; i < half; i++)
            {
                double angle = p * freqs.InverseFrequencies[i];
                cos[t * half + i] = (float)(Math.Cos(angle) * freqs.AttentionFactor);
                sin[t * half + i] = (float)(Math.Sin(angle) * freqs.AttentionFactor);
            }
        }
    }

    /// <summary>
    /// Rotates every head of one token in place: <paramref name="heads"/> is [numHeads, headDim] and
    /// <paramref name="cos"/>/<paramref name="sin"/> are that token's [headDim/2] rows.
    /// out[i] = x[i]·cos − x[i+h]·sin, out[i+h] = x[i]·sin + x[i+h]·cos, h = headDim/2.
    /// </summary>
    public static void ApplyNeox(Span<float> heads, int headDim, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int half = headDim / 2;
        for (int start = 0; start < heads.Length; start += headDim)
        {
            var head = heads.Slice(start, headDim);
            for (int i = 0; i < half; i++)
            {
                float x0 = head[i];
                float x1 = head[i + half];
                head[i] = x0 * cos[i] - x1 * sin[i];
                head[i + half] = x0 * sin[i] + x1 * cos[i];
            }
        }
    }
}

/// <summary>
/// Per-pair inverse frequencies and the cos/sin scale of a rotary embedding: plain RoPE, or YaRN as vLLM's
/// <c>YaRNScalingRotaryEmbedding</c> applies a config's <c>rope_scaling</c> block (static, from position 0).
/// </summary>
public sealed class RopeFrequencies
{
    private RopeFrequencies(double[] inverseFrequencies, double attentionFactor)
    {
        InverseFrequencies = inverseFrequencies;
        AttentionFactor = attentionFactor;
    }

    /// <summary>[head_dim/2] angle per position of each pair.</summary>
    public double[] InverseFrequencies { get; }
    /// <summary>Scale applied to both cos and sin (1 for plain RoPE; YaRN's mscale).</summary>
    public double AttentionFactor { get; }

    /// <summary>Plain RoPE: inv_freq[i] = θ^(−2i/d).</summary>
    public static RopeFrequencies Plain(int headDim, double theta)
    {
        var inv = new double[headDim / 2];
        for (int i = 0; i < inv.Length; i++) inv[i] = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
        return new RopeFrequencies(inv, 1.0);
    }

    /// <summary>
    /// YaRN (Peng et al. 2023) as vLLM computes it: the correction range is floor/ceil of the dimensions where
    /// beta_fast and beta_slow rotations happen within <paramref name="originalContext"/>, clamped to
    /// [0, d−1]; a linear ramp over the pair index blends inv_freq/factor (interpolation) into inv_freq
    /// (extrapolation); cos and sin are both scaled by 0.1·ln(factor) + 1.
    /// </summary>
    public static RopeFrequencies Yarn(int headDim, double theta, double factor, int originalContext, double betaFast = 32, double betaSlow = 1)
    {
        int half = headDim / 2;
        double CorrectionDim(double rotations) =>
            headDim * Math.Log(originalContext / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
        double low = Math.Max(Math.Floor(CorrectionDim(betaFast)), 0);
        double high = Math.Min(Math.Ceiling(CorrectionDim(betaSlow)), headDim - 1);
        if (low == high) high += 0.001; // vLLM's guard against a zero-width ramp

        var inv = new double[half];
        for (int i = 0; i < half; i++)
        {
            double posFreq = Math.Pow(theta, 2.0 * i / headDim);
            double extrapolation = 1.0 / posFreq;
            double interpolation = 1.0 / (factor * posFreq);
            double ramp = Math.Clamp((i - low) / (high - low), 0, 1);
            double extrapolationWeight = 1 - ramp;
            inv[i] = interpolation * (1 - extrapolationWeight) + extrapolation * extrapolationWeight;
        }
        double mscale = factor <= 1 ? 1.0 : 0.1 * Math.Log(factor) + 1.0;
        return new RopeFrequencies(inv, mscale);
    }
}
