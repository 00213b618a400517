namespace QwenSharp.Grammar;

/// <summary>
/// Runs a list of tokens, sorted by their bytes, through the stacks that start from one frame, as a trie walk: the
/// stack set after each prefix byte is kept per depth, so a token re-reads only the bytes it does not share with
/// the one before (longest-common-prefix rollback), and a prefix no stack survives rejects every token that
/// starts with it at once. Scratch state for one thread.
/// </summary>
internal sealed class TokenWalker
{
    public const byte Rejected = 0, Accepted = 1, Uncertain = 2;

    private readonly StackSet[] _sets;
    private readonly bool[] _uncertain;

    public TokenWalker(int maxTokenLength)
    {
        _sets = new StackSet[maxTokenLength + 1];
        for (int i = 0; i < _sets.Length; i++) _sets[i] = new StackSet();
        _uncertain = new bool[maxTokenLength + 1];
    }

    /// <summary>
    /// Classifies tokens positions[0..count) (indices into the vocabulary's sorted order; null: all of it) read from
    /// <paramref name="start"/>, whose top must read a byte first. With <paramref name="follow"/> (the start frame
    /// sits on <see cref="StackNode.Bottom"/>), a token that can only go on after popping the start frame is
    /// <see cref="Uncertain"/> when its next byte may follow that frame's rule and <see cref="Rejected"/> otherwise.
    /// </summary>
    /// <param name="lcps">Bytes each listed token shares with the previous listed one.</param>
    public void Walk(GrammarAutomaton a, GrammarVocabulary vocab, StackNode start, ReadOnlySpan<ulong> follow,
        int[]? positions, int[] lcps, int count, Span<byte> outcome)
    {
        var pool = vocab.Pool;
        var offsets = vocab.Offsets;
        _sets[0].Clear();
        _sets[0].AddTop(start);
        _uncertain[0] = false;
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
                var here = _sets[d];
                if (here.IsDead) break;
                byte b = pool[begin + d];
                _uncertain[d + 1] = _uncertain[d] || (withFollow && here.Escaped && (follow[b >> 6] >> b & 1) != 0);
                _sets[d + 1].Step(a, here, b);
                d++;
            }
            built = d;
            var last = _sets[d];
            if (d == len && !last.IsDead)
            {
                outcome[i++] = Accepted;
                continue;
            }
            // Dead after d bytes: every following token that shares those bytes ends the same way.
            byte result = _uncertain[d] ? Uncertain : Rejected;
            outcome[i++] = result;
            while (i < count && lcps[i] >= d) outcome[i++] = result;
        }
    }
}
