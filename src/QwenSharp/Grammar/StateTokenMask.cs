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
        var outcome = new byte[n];
        int rule = a.RuleOf[state];
        walker.Walk(a, vocab, new StackNode(state, StackNode.Bottom), a.Follow.AsSpan(4 * rule, 4), null, vocab.Lcp, n, outcome);
        var result = new StateTokenMask();
        int accepted = 0, uncertain = 0;
        foreach (byte o in outcome)
        {
            if (o == TokenWalker.Accepted) accepted++;
            else if (o == TokenWalker.Uncertain) uncertain++;
        }
        result.AcceptedCount = accepted;
        var ids = vocab.SortedIds;
        if (accepted > vocab.Size / 64)
        {
            var bits = new ulong[(vocab.Size + 63) >> 6];
            for (int i = 0; i < n; i++)
                if (outcome[i] == TokenWalker.Accepted) bits[ids[i] >> 6] |= 1UL << ids[i];
            result.AcceptedBits = bits;
        }
        else
        {
            var list = new int[accepted];
            int k = 0;
            for (int i = 0; i < n; i++)
                if (outcome[i] == TokenWalker.Accepted) list[k++] = ids[i];
            result.AcceptedIds = list;
        }
        result.Uncertain = new int[uncertain];
        result.UncertainLcp = new int[uncertain];
        int u = 0;
        for (int i = 0; i < n; i++)
        {
            if (outcome[i] != TokenWalker.Uncertain) continue;
            result.Uncertain[u] = i;
            result.UncertainLcp[u] = u == 0 ? 0 : GrammarVocabulary.CommonPrefix(vocab.Token(result.Uncertain[u - 1]), vocab.Token(i));
            u++;
        }
        return result;
    }
}
