namespace QwenSharp.Generation.Stages;

/// <summary>
/// Keeps the k highest logits. As in vLLM's apply_top_k_top_p, the cut is a value: every token whose logit
/// equals the k-th highest is kept too, so ties at the boundary may leave more than k tokens.
/// The k-th value is found in one pass with a k-sized heap (or by linear-time selection for large k), not by
/// sorting the vocabulary.
/// </summary>
public sealed class TopKStage(int k, SamplingScratch scratch) : ILogitsStage
{
    public int K { get; } = k;

    /// <summary>Up to this k the k-th value comes from a min-heap in one pass; above it, from selection.</summary>
    private const int HeapLimit = 1024;

    public void Apply(Span<float> logits, TokenHistory history)
    {
        scratch.EnsureCapacity(logits.Length);
        float threshold = K <= HeapLimit ? KthLargestByHeap(logits) : KthLargestBySelection(logits);
        if (!(threshold > float.NegativeInfinity)) return; // k or fewer candidates: nothing to cut
        for (int i = 0; i < logits.Length; i++)
            if (logits[i] < threshold) logits[i] = float.NegativeInfinity;
    }

    /// <summary>
    /// The k-th largest logit, or -inf when at most k are finite: a min-heap of the k largest seen so far, whose
    /// root is the k-th. On a vocabulary in no particular order most logits fail the one comparison with the root.
    /// </summary>
    private float KthLargestByHeap(ReadOnlySpan<float> logits)
    {
        Span<float> heap = scratch.Keys.AsSpan(0, K);
        int count = 0;
        foreach (float x in logits)
        {
            if (!(x > float.NegativeInfinity)) continue;
            if (count < K)
            {
                int i = count++;
                while (i > 0 && heap[(i - 1) >> 1] > x)
                {
                    heap[i] = heap[(i - 1) >> 1];
                    i = (i - 1) >> 1;
                }
                heap[i] = x;
            }
            else if (x > heap[0])
            {
                int i = 0;
                while (true)
                {
                    int child = 2 * i + 1;
                    if (child >= K) break;
                    if (child + 1 < K && heap[child + 1] < heap[child]) child++;
                    if (heap[child] >= x) break;
                    heap[i] = heap[child];
                    i = child;
                }
                heap[i] = x;
            }
        }
        return count < K ? float.NegativeInfinity : heap[0];
    }

    private float KthLargestBySelection(ReadOnlySpan<float> logits)
    {
        Span<float> values = scratch.Values.AsSpan(0, logits.Length);
        int candidates = 0;
        foreach (float x in logits)
            if (x > float.NegativeInfinity) values[candidates++] = x;
        return candidates <= K ? float.NegativeInfinity : SelectAscending(values[..candidates], candidates - K);
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
