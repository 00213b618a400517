namespace QwenSharp.Grammar;

/// <summary>
/// Runs a list of tokens, sorted by their bytes, through the stacks that start from one frame, as a trie walk: the
/// stack set after each prefix byte is kept per depth, so a token re-reads only the bytes it does not share with
/// the one before (longest-common-prefix rollback), and a prefix no stack survives rejects every token that
/// starts with it at once. Scratch state for one thread.
/// </summary>
internal sealed class TokenWalker
{
    private readonly StackSet[] _sets;
    private readonly bool[] _uncertain;
    // _plain[d] ≥ 0: after d bytes the only stack is the start frame at that state, with no call pushed and no
    // pop possible (the common case: bytes read inside one rule), kept as a bare state with no frames built.
    private readonly int[] _plain;

    public TokenWalker(int maxTokenLength)
    {
        _sets = new StackSet[maxTokenLength + 1];
        for (int i = 0; i < _sets.Length; i++) _sets[i] = new StackSet();
        _uncertain = new bool[maxTokenLength + 1];
        _plain = new int[maxTokenLength + 1];
    }

    /// <summary>
    /// Classifies tokens positions[0..count) (indices into the vocabulary's sorted order; null: all of it) read from
    /// <paramref name="start"/>, whose top must read a byte first: the list indices of those accepted go to
    /// <paramref name="accepted"/>. With <paramref name="follow"/> (the start frame sits on <see cref="StackNode.Bottom"/>),
    /// a token that can only go on after popping the start frame is uncertain (to <paramref name="uncertain"/>) when
    /// its next byte may follow that frame's rule, and rejected otherwise.
    /// </summary>
    /// <param name="lcps">Bytes each listed token shares with the previous listed one.</param>
    public void Walk(GrammarAutomaton a, GrammarVocabulary vocab, StackNode start, ReadOnlySpan<ulong> follow,
        int[]? positions, int[] lcps, int count, List<int> accepted, List<int>? uncertain)
    {
        var pool = vocab.Pool;
        var offsets = vocab.Offsets;
        _sets[0].Clear();
        _sets[0].AddTop(start);
        _plain[0] = -1;
        _uncertain[0] = false;
        var below = start.Parent;
        var final = a.Final;
        var refOffsets = a.RefOffsets;
        var next = a.Next;
        var byteClass = a.ByteClass;
        int classes = a.ClassCount;
        if (!final[start.State] && refOffsets[start.State] == refOffsets[start.State + 1]) _plain[0] = start.State;
        int built = 0; // _sets[0..built] hold the prefix of the previous token
        bool withFollow = !follow.IsEmpty;
        int i = 0;
        while (i < count)
        {
            int pos = positions is null ? i : positions[i];
            int begin = offsets[pos], len = offsets[pos + 1] - begin;
            int d = Math.Min(lcps[i], built);
            while (d < len)
            {
                byte b = pool[begin + d];
                int plain = _plain[d];
                if (plain >= 0)
                {
                    _uncertain[d + 1] = _uncertain[d];
                    int t = next[plain * classes + byteClass[b]];
                    if (t < 0)
                    {
                        d++;
                        _plain[d] = -1;
                        _sets[d].Clear();
                        break;
                    }
                    d++;
                    if (!final[t] && refOffsets[t] == refOffsets[t + 1]) _plain[d] = t;
                    else
                    {
                        _plain[d] = -1;
                        _sets[d].Clear();
                        _sets[d].AddClosed(a, new StackNode(t, below));
                    }
                    continue;
                }
                var here = _sets[d];
                if (here.IsDead) break;
                _uncertain[d + 1] = _uncertain[d] || (withFollow && here.Escaped && (follow[b >> 6] >> b & 1) != 0);
                _sets[d + 1].Step(a, here, b);
                d++;
                // Back to a single frame that only reads bytes: keep it bare.
                var set = _sets[d];
                if (set.Count == 1 && !set.Completed && !set.Escaped && ReferenceEquals(set[0].Parent, below)
                    && !final[set[0].State] && refOffsets[set[0].State] == refOffsets[set[0].State + 1])
                    _plain[d] = set[0].State;
                else _plain[d] = -1;
            }
            built = d;
            var last = _sets[d];
            if (d == len && (_plain[d] >= 0 || !last.IsDead))
            {
                accepted.Add(i++);
                continue;
            }
            // Dead after d bytes: every following token that shares those bytes ends the same way.
            int from = i;
            if (positions is null) i = SubtreeEnd(vocab, i, d, count);
            else for (i++; i < count && lcps[i] >= d; i++) { }
            if (_uncertain[d] && uncertain is not null)
                for (int k = from; k < i; k++) uncertain.Add(k);
        }
    }

    /// <summary>First sorted index after <paramref name="i"/> whose token does not start with the first
    /// <paramref name="d"/> bytes of token i (binary search: those that do are contiguous in byte order).</summary>
    private static int SubtreeEnd(GrammarVocabulary vocab, int i, int d, int count)
    {
        var prefix = vocab.Token(i)[..d];
        int lo = i + 1, hi = count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            var t = vocab.Token(mid);
            if (t.Length >= d && t[..d].SequenceEqual(prefix)) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}
