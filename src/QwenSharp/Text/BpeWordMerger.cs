using System.Buffers;

namespace QwenSharp.Text;

/// <summary>
/// Merges the symbols of one pre-token by BPE rank: always the adjacent pair with the lowest-ranked rule, the
/// leftmost of equals, until no pair has a rule. That is HF tokenizers' order (`Word::merge_all` pops a min-heap
/// keyed on (rank, position of the left symbol), and a symbol keeps its position for life, so positions keep
/// the text's order). One instance per thread: it holds the scratch arrays.
/// </summary>
/// <remarks>
/// Short words scan their pairs for the lowest rank each step (O(n²) with tiny constants). Longer ones keep
/// the symbols in a linked list and the candidate merges in a <see cref="MergeCandidateQueue"/>; an entry
/// goes stale when its left symbol was merged away or either symbol changed, and is skipped when taken (its
/// pair's rank is looked up again: a changed pair spans more bytes, so it is another rule). Each merge adds
/// at most the two pairs it forms, so a word of n bytes sees at most 3n candidates, and one long run of a
/// single kind of character (a pre-token can be the whole text) costs time in proportion to its length.
/// </remarks>
internal sealed class BpeWordMerger
{
    /// <summary>Words up to this many bytes take the scanning path: below it the queue costs more than the
    /// scans it saves.</summary>
    internal const int ScanLimit = 32;

    /// <summary>Scratch of at most this many symbols is kept between calls; a longer word borrows from the shared
    /// array pool, so one huge input does not pin megabytes to a thread for good.</summary>
    internal const int KeptCapacity = 1 << 16;

    private readonly int[] _ranks = new int[ScanLimit];
    private readonly int[] _merged = new int[ScanLimit];
    private Symbol[] _list = new Symbol[256];
    private MergeCandidateQueue? _queue;

    /// <summary>Merges <paramref name="symbols"/> (token ids, one per byte at first) in place and returns how
    /// many are left at its start.</summary>
    public int Merge(Span<int> symbols, MergeTable merges)
    {
        int n = symbols.Length;
        if (n <= ScanLimit) return MergeByScanning(symbols, merges);
        var queue = _queue ??= new MergeCandidateQueue(merges.RankLimit);
        if (n <= KeptCapacity)
        {
            if (_list.Length < n) _list = new Symbol[Math.Min(Math.Max(n, _list.Length * 2), KeptCapacity)];
            return MergeByQueue(symbols, merges, _list, queue);
        }
        var list = ArrayPool<Symbol>.Shared.Rent(n);
        try
        {
            return MergeByQueue(symbols, merges, list, queue);
        }
        finally
        {
            ArrayPool<Symbol>.Shared.Return(list);
        }
    }

    private int MergeByScanning(Span<int> symbols, MergeTable merges)
    {
        int[] ranks = _ranks, merged = _merged;
        int count = symbols.Length;
        for (int i = 0; i + 1 < count; i++) ranks[i] = merges.Find(symbols[i], symbols[i + 1], out merged[i]);
        while (count > 1)
        {
            int best = 0, bestRank = ranks[0];
            for (int i = 1; i + 1 < count; i++)
                if (ranks[i] < bestRank) { bestRank = ranks[i]; best = i; }
            if (bestRank == int.MaxValue) break;
            symbols[best] = merged[best];
            int tail = count - best - 2;
            if (tail > 0)
            {
                symbols.Slice(best + 2, tail).CopyTo(symbols[(best + 1)..]);
                Array.Copy(ranks, best + 2, ranks, best + 1, tail);
                Array.Copy(merged, best + 2, merged, best + 1, tail);
            }
            count--;
            if (best > 0) ranks[best - 1] = merges.Find(symbols[best - 1], symbols[best], out merged[best - 1]);
            if (best + 1 < count) ranks[best] = merges.Find(symbols[best], symbols[best + 1], out merged[best]);
        }
        return count;
    }

    /// <summary>
    /// One byte's slot in the linked list. A slot where a symbol starts holds its token and the start of the
    /// next symbol. The other slots are Removed; the one at a symbol's last byte holds, in Next, where that
    /// symbol starts, so the symbol before position p is found at slot p - 1 without a third field (8 bytes a
    /// slot rather than 12: a long word's list is walked once per rank in play, so its size is its cost).
    /// </summary>
    private struct Symbol
    {
        public int Token, Next;
    }

    private static int MergeByQueue(Span<int> symbols, MergeTable merges, Symbol[] list, MergeCandidateQueue queue)
    {
        const int Removed = -1;
        int n = symbols.Length;
        try
        {
            queue.Reserve(n);
            for (int i = 0; i < n; i++)
            {
                list[i] = new Symbol { Token = symbols[i], Next = i + 1 };
                if (i + 1 < n)
                {
                    int rank = merges.Find(symbols[i], symbols[i + 1], out _);
                    if (rank != int.MaxValue) queue.Push(rank, i);
                }
            }
            while (!queue.IsEmpty)
            {
                var (rank, pos) = queue.Pop();
                ref Symbol left = ref list[pos];
                if (left.Token == Removed || left.Next >= n) continue;
                ref Symbol right = ref list[left.Next];
                if (merges.Find(left.Token, right.Token, out int merged) != rank) continue;

                int after = right.Next;
                left.Token = merged;
                left.Next = after;
                right.Token = Removed;
                list[after - 1].Next = pos; // the merged symbol's last byte points back to its start

                if (pos > 0)
                {
                    int before = list[pos - 1].Token != Removed ? pos - 1 : list[pos - 1].Next;
                    int r = merges.Find(list[before].Token, merged, out _);
                    if (r != int.MaxValue) queue.Push(r, before);
                }
                if (after < n)
                {
                    int r = merges.Find(merged, list[after].Token, out _);
                    if (r != int.MaxValue) queue.Push(r, pos);
                }
            }
        }
        finally
        {
            queue.Clear();
        }
        int count = 0;
        for (int i = 0; i < n; i = list[i].Next) symbols[count++] = list[i].Token;
        return count;
    }
}
