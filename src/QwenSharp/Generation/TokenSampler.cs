namespace QwenSharp.Generation;

/// <summary>The last step of the chain: picks one token id from processed logits.</summary>
public static class TokenSampler
{
    /// <summary>The id of the highest logit; the lowest id among equals (as torch.argmax and llama.cpp's greedy). All -inf gives 0.</summary>
    public static int Greedy(ReadOnlySpan<float> logits)
    {
        int best = 0;
        float bestValue = logits[0];
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > bestValue)
            {
                bestValue = logits[i];
                best = i;
            }
        return best;
    }

    /// <summary>
    /// Draws from softmax(logits) by inverse transform: one uniform u in [0, 1) from <paramref name="random"/>,
    /// then the first id, in id order, whose cumulative weight exceeds u times the total. Weights are
    /// exp(logit - max) summed in double, so the same logits and generator state give the same id everywhere.
    /// <paramref name="weights"/> is room for one weight per logit.
    /// </summary>
    public static int Sample(ReadOnlySpan<float> logits, Xoshiro256StarStar random, Span<float> weights)
    {
        float max = float.NegativeInfinity;
        foreach (float x in logits)
            if (x > max) max = x;
        if (!(max > float.NegativeInfinity)) return Greedy(logits);

        double total = 0;
        int last = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            float w = logits[i] > float.NegativeInfinity ? MathF.Exp(logits[i] - max) : 0f;
            weights[i] = w;
            total += w;
            if (w > 0) last = i;
        }

        double target = random.NextDouble() * total;
        double cumulative = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            cumulative += weights[i];
            if (cumulative > target && weights[i] > 0) return i;
        }
        return last; // rounding left target at the very top: the last token with weight
    }
}
