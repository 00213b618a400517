namespace QwenSharp.Model;

/// <summary>
/// The k largest of a row of scores, chosen as llama.cpp's MoE layer chooses experts, so that exact ties in a router
/// pick the same experts. build_moe_ffn takes ggml_argsort_top_k: the CPU argsort orders the indices 0..n-1 with
/// std::sort and "score[a] &gt; score[b]", and the first k are the experts. std::sort is not stable, so which of
/// several equal scores come first is whatever GNU libstdc++'s introsort (the library of llama.cpp's Linux builds)
/// makes of them: up to 16 values a plain insertion sort (lower index first among equals), above that median-of-three
/// quicksort partitions down to runs of 16, a heap sort past the depth limit 2·⌊log2 n⌋, and a final insertion sort.
/// That algorithm is reproduced here step for step on an index array (a 64-expert row costs a few hundred compares).
/// </summary>
public static class TopK
{
    private const int Threshold = 16; // libstdc++'s _S_threshold

    /// <summary>Writes the indices of the top <c>chosen.Length</c> scores to <paramref name="chosen"/>, in llama.cpp's
    /// order; <paramref name="order"/> is scratch of at least <c>scores.Length</c>.</summary>
    public static void Select(ReadOnlySpan<float> scores, Span<int> chosen, Span<int> order)
    {
        int n = scores.Length, k = chosen.Length;
        if (k > n) throw new ArgumentException($"Top {k} of {n} scores is undefined.");
        var a = order[..n];
        for (int i = 0; i < n; i++) a[i] = i;
        if (n > 1)
        {
            IntroLoop(scores, a, 0, n, 2 * Log2(n));
            FinalInsertionSort(scores, a, n);
        }
        a[..k].CopyTo(chosen);
    }

    /// <summary>"a sorts before b": a higher score.</summary>
    private static bool Before(ReadOnlySpan<float> s, int a, int b) => s[a] > s[b];

    private static int Log2(int n) => 31 - System.Numerics.BitOperations.LeadingZeroCount((uint)n);

    private static void IntroLoop(ReadOnlySpan<float> s, Span<int> a, int first, int last, int depth)
    {
        while (last - first > Threshold)
        {
            if (depth == 0)
            {
                HeapSort(s, a.Slice(first, last - first));
                return;
            }
            depth--;
            int cut = PartitionPivot(s, a, first, last);
            IntroLoop(s, a, cut, last, depth);
            last = cut;
        }
    }

    /// <summary>The median of a[first+1], a[mid], a[last-1] moves to a[first] as the pivot; the rest is partitioned
    /// around it without bounds checks (the pivot stops both scans).</summary>
    private static int PartitionPivot(ReadOnlySpan<float> s, Span<int> a, int first, int last)
    {
        int mid = first + (last - first) / 2;
        MoveMedianToFirst(s, a, first, first + 1, mid, last - 1);
        int lo = first + 1, hi = last, pivot = a[first];
        while (true)
        {
            while (Before(s, a[lo], pivot)) lo++;
            hi--;
            while (Before(s, pivot, a[hi])) hi--;
            if (lo >= hi) return lo;
            (a[lo], a[hi]) = (a[hi], a[lo]);
            lo++;
        }
    }

    private static void MoveMedianToFirst(ReadOnlySpan<float> s, Span<int> a, int result, int x, int y, int z)
    {
        int median;
        if (Before(s, a[x], a[y]))
            median = Before(s, a[y], a[z]) ? y : Before(s, a[x], a[z]) ? z : x;
        else
            median = Before(s, a[x], a[z]) ? x : Before(s, a[y], a[z]) ? z : y;
        (a[result], a[median]) = (a[median], a[result]);
    }

    private static void FinalInsertionSort(ReadOnlySpan<float> s, Span<int> a, int n)
    {
        if (n > Threshold)
        {
            InsertionSort(s, a[..Threshold]);
            for (int i = Threshold; i < n; i++) LinearInsert(s, a, i);
        }
        else InsertionSort(s, a[..n]);
    }

    private static void InsertionSort(ReadOnlySpan<float> s, Span<int> a)
    {
        for (int i = 1; i < a.Length; i++)
        {
            if (Before(s, a[i], a[0]))
            {
                int value = a[i];
                a[..i].CopyTo(a[1..]);
                a[0] = value;
            }
            else LinearInsert(s, a, i);
        }
    }

    /// <summary>Moves a[i] left past every element it sorts before (something to its left stops it).</summary>
    private static void LinearInsert(ReadOnlySpan<float> s, Span<int> a, int i)
    {
        int value = a[i], j = i - 1;
        while (Before(s, value, a[j]))
        {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = value;
    }

    /// <summary>std::partial_sort over the whole range: make_heap, then pop the top to the back until one is left.</summary>
    private static void HeapSort(ReadOnlySpan<float> s, Span<int> a)
    {
        int len = a.Length;
        for (int parent = (len - 2) / 2; parent >= 0; parent--) Adjust(s, a[..len], parent, a[parent]);
        for (int last = len - 1; last > 0; last--)
        {
            int value = a[last];
            a[last] = a[0];
            Adjust(s, a[..last], 0, value);
        }
    }

    /// <summary>libstdc++'s __adjust_heap: the hole sinks to a leaf along the child that sorts later (the right one on
    /// equal scores), then <paramref name="value"/> rises from there while its parent sorts before it.</summary>
    private static void Adjust(ReadOnlySpan<float> s, Span<int> h, int hole, int value)
    {
        int len = h.Length, top = hole, child = hole;
        while (child < (len - 1) / 2)
        {
            child = 2 * (child + 1);
            if (Before(s, h[child], h[child - 1])) child--;
            h[hole] = h[child];
            hole = child;
        }
        if ((len & 1) == 0 && child == (len - 2) / 2)
        {
            child = 2 * (child + 1);
            h[hole] = h[child - 1];
            hole = child - 1;
        }
        int parent = (hole - 1) / 2;
        while (hole > top && Before(s, h[parent], value))
        {
            h[hole] = h[parent];
            hole = parent;
            parent = (hole - 1) / 2;
        }
        h[hole] = value;
    }
}
