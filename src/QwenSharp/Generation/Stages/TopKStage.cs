namespace QwenSharp.Generation.Stages;

/// <summary>
/// Keeps the k highest logits. As in vLLM's apply_top_k_top_p, the cut is a value: every token whose logit
/// equals the k-th highest is kept too, so ties at the boundary may leave more than k tokens.
/// The k-th value is found by selection (linear time), not by sorting the vocabulary.
/// </summary>
public sealed class TopKStage(int k, SamplingScratch scratch) : ILogitsStage
{
    public int K { get; } = k;

    public void Apply(Span<float> logits, TokenHistory history)
    {
        scratch.EnsureCapacity(logits.Length);
        Span<float> values = scratch.Values.AsSpan(0, logits.Length);
        int candidates = 0;
        foreach (float x in logits)
            if (x > float.NegativeInfinity) values[candidates++] = x;
        if (candidates <= K) return;

        float threshold = SelectAscending(values[..candidates], candidates - K);
        for (int i = 0; i < logits.Length; i++)
            if (logits[i] < threshold) logits[i] = float.NegativeInfinity;
    }

    /// <summary>The value that would stand at <paramref name="n"/> if <paramref name="a"/> were sorted ascending (Hoare's selection; reorders a).</summary>
    internal static float SelectAscending(Span<float> a, int n)
    {
        int lo = 0, hi = a.Length - 1;
        while (lo < hi)
        {
            float x = a[lo], y = a[(lo + hi) >>> 1], z = a[hi];
            float pivot = Math.Max(Math.Min(x, y), Math.Min(Math.Max(x, y), z)); // median of three
            int i = lo, j = hi;
            while (i <= j)
            {
                while (a[i] < pivot) i++;
                while (a[j] > pivot) j--;
                if (i <= j)
                {
                    (a[i], a[j]) = (a[j], a[i]);
                    i++;
                    j--;
                }
            }
            // Now a[lo..j] <= pivot, a[i..hi] >= pivot, and everything strictly between equals pivot.
            if (n <= j) hi = j;
            else if (n >= i) lo = i;
            else return a[n];
        }
        return a[lo];
    }
}
