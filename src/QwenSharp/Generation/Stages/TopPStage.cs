namespace QwenSharp.Generation.Stages;

/// <summary>
/// Nucleus sampling (Holtzman et al. 2019) with vLLM's and HF's boundary rule: sort probabilities ascending,
/// drop every token whose cumulative probability (itself and all below it) is at most 1 - top_p, and always
/// keep the most likely token. Equal probabilities rank the lower id higher.
/// Only tokens that can survive are sorted: a token with probability p ≤ (1 - top_p) / N (N tokens alive) has at
/// most N·p ≤ 1 - top_p of mass at or below it, so it is dropped whatever the order; usually that leaves few.
/// </summary>
public sealed class TopPStage(float topP, SamplingScratch scratch) : ILogitsStage
{
    public float TopP { get; } = topP;

    public void Apply(Span<float> logits, TokenHistory history)
    {
        scratch.EnsureCapacity(logits.Length);
        float[] probs = scratch.Values;
        int alive = Softmax(logits, probs);
        double dropMass = 1.0 - TopP;
        double floor = dropMass / alive;

        Span<int> candidates = scratch.Indices.AsSpan(0, logits.Length);
        Span<float> keys = scratch.Keys.AsSpan(0, logits.Length);
        int count = 0;
        double cumulative = 0; // mass of the tokens already known to be dropped, all below every candidate
        for (int i = 0; i < logits.Length; i++)
        {
            if (probs[i] > floor)
            {
                keys[count] = probs[i];
                candidates[count++] = i;
            }
            else
            {
                cumulative += probs[i];
                logits[i] = float.NegativeInfinity;
            }
        }

        candidates = candidates[..count];
        SortAscending(keys[..count], candidates);
        for (int r = 0; r < candidates.Length - 1; r++) // the last (most likely) is always kept
        {
            cumulative += probs[candidates[r]];
            if (cumulative > dropMass) break;
            logits[candidates[r]] = float.NegativeInfinity;
        }
    }

    /// <summary>softmax(logits) into probs; returns how many tokens have a finite logit.</summary>
    internal static int Softmax(ReadOnlySpan<float> logits, float[] probs)
    {
        float max = float.NegativeInfinity;
        int alive = 0;
        foreach (float x in logits)
        {
            if (x > max) max = x;
            if (x > float.NegativeInfinity) alive++;
        }
        double sum = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            float e = logits[i] > float.NegativeInfinity ? MathF.Exp(logits[i] - max) : 0f;
            probs[i] = e;
            sum += e;
        }
        float inverse = (float)(1.0 / sum);
        for (int i = 0; i < logits.Length; i++) probs[i] *= inverse;
        return alive;
    }

    /// <summary>
    /// Sorts ids by ascending probability; among equal probabilities the higher id comes first, so the lower id
    /// ranks higher. The key/value span sort of primitives allocates nothing; runs of equal keys are then put in order.
    /// </summary>
    private static void SortAscending(Span<float> keys, Span<int> ids)
    {
        keys.Sort(ids);
        for (int start = 0; start < keys.Length;)
        {
            int end = start + 1;
            while (end < keys.Length && keys[end] == keys[start]) end++;
            if (end - start > 1)
            {
                var run = ids[start..end];
                run.Sort();
                run.Reverse();
            }
            start = end;
        }
    }
}
