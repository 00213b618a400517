namespace QwenSharp.Grammar;

/// <summary>
/// xgrammar's adaptive token-mask cache entry for one DFA state that can top a stack: the tokens a stack with this
/// top accepts whatever lies below it (kept as a bitset when many, as ids when few), and the uncertain ones, which
/// pop below this frame with a next byte that may follow the rule and so must be run against the real stack. Every
/// other token is rejected whatever lies below.
/// </summary>
internal sealed class StateTokenMask
{
    public ulong[]? AcceptedBits;
    public int[]? AcceptedIds;
    /// <summary>Uncertain tokens as indices into the vocabulary's sorted order, ascending.</summary>
    public int[] Uncertain = [];
    /// <summary>Bytes each uncertain token shares with the previous uncertain one.</summary>
    public int[] UncertainLcp = [];
    public int AcceptedCount;

    public static StateTokenMask Compute(GrammarAutomaton a, GrammarVocabulary vocab, int state, TokenWalker walker)
    {
        int n = vocab.SortedIds.Length;
        var accepted = new List<int>();
        var uncertain = new List<int>();
        int rule = a.RuleOf[state];
        walker.Walk(a, vocab, new StackNode(state, StackNode.Bottom), a.Follow.AsSpan(4 * rule, 4), null, vocab.Lcp, n, accepted, uncertain);
        var result = new StateTokenMask { AcceptedCount = accepted.Count };
        var ids = vocab.SortedIds;
        if (accepted.Count > vocab.Size / 64)
        {
            var bits = new ulong[(vocab.Size + 63) >> 6];
            foreach (int i in accepted) bits[ids[i] >> 6] |= 1UL << ids[i];
            result.AcceptedBits = bits;
        }
        else
        {
            var list = new int[accepted.Count];
            for (int k = 0; k < list.Length; k++) list[k] = ids[accepted[k]];
            result.AcceptedIds = list;
        }
        result.Uncertain = uncertain.ToArray();
        result.UncertainLcp = new int[uncertain.Count];
        for (int u = 1; u < uncertain.Count; u++)
            result.UncertainLcp[u] = GrammarVocabulary.CommonPrefix(vocab.Token(uncertain[u - 1]), vocab.Token(uncertain[u]));
        return result;
    }
}
