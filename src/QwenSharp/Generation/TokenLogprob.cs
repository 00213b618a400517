namespace QwenSharp.Generation;

/// <summary>One alternative token and its log-probability.</summary>
public readonly record struct TopLogprob(int TokenId, float Logprob);

/// <summary>
/// The chosen token's log-probability under the model's raw distribution (vLLM's default raw_logprobs: before
/// penalties, temperature and filters), its rank there (vLLM: how many tokens are at least as likely), and the
/// <c>logprobs</c> most likely alternatives, most likely first (lower id first on equal values).
/// </summary>
public sealed record TokenLogprob(int TokenId, float Logprob, int Rank, IReadOnlyList<TopLogprob> TopLogprobs);

/// <summary>Log-softmax of raw logits for the logprobs a request asks for.</summary>
public static class LogprobCalculator
{
    /// <summary>log softmax(logits)[tokenId] with its rank and the <paramref name="top"/> most likely tokens.</summary>
    public static TokenLogprob Compute(ReadOnlySpan<float> logits, int tokenId, int top)
    {
        float max = float.NegativeInfinity;
        foreach (float x in logits)
            if (x > max) max = x;
        double sum = 0;
        foreach (float x in logits)
            if (x > float.NegativeInfinity) sum += Math.Exp(x - max);
        float logZ = (float)(max + Math.Log(sum));

        float chosen = logits[tokenId];
        int rank = 0;
        foreach (float x in logits)
            if (x >= chosen) rank++;

        top = Math.Min(top, logits.Length);
        var best = new TopLogprob[top];
        int filled = 0;
        for (int i = 0; i < logits.Length && top > 0; i++)
        {
            float x = logits[i];
            // Insertion into a short list kept in descending order; a later id never displaces an equal earlier one.
            if (filled == top && !(x > best[top - 1].Logprob)) continue;
            int at = filled < top ? filled++ : top - 1;
            while (at > 0 && x > best[at - 1].Logprob)
            {
                best[at] = best[at - 1];
                at--;
            }
            best[at] = new TopLogprob(i, x);
        }
        for (int i = 0; i < best.Length; i++) best[i] = best[i] with { Logprob = best[i].Logprob - logZ };
        return new TokenLogprob(tokenId, chosen - logZ, rank, best);
    }
}
