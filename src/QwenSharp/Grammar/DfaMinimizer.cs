namespace QwenSharp.Grammar;

/// <summary>
/// Merges equivalent states of each rule's DFA (Moore's partition refinement): same rule, same finality, and for
/// every byte class and every call the same block of targets. Subset construction leaves many duplicates where
/// inlined rules and unrolled repetitions end alike; every state kept is one more token-mask cache entry to compute.
/// </summary>
internal static class DfaMinimizer
{
    public static void Minimize(GrammarAutomaton a)
    {
        int n = a.StateCount, classes = a.ClassCount;
        var block = new int[n];
        int blocks = Refine(a, block, initial: true);
        while (true)
        {
            int next = Refine(a, block, initial: false);
            if (next == blocks) break;
            blocks = next;
        }
        if (blocks == n) return;

        var newNext = new int[blocks * classes];
        var final = new bool[blocks];
        var ruleOf = new int[blocks];
        var representative = new int[blocks];
        Array.Fill(representative, -1);
        for (int s = 0; s < n; s++)
            if (representative[block[s]] < 0) representative[block[s]] = s;
        var refOffsets = new int[blocks + 1];
        var refRule = new List<int>();
        var refTarget = new List<int>();
        for (int b = 0; b < blocks; b++)
        {
            int s = representative[b];
            final[b] = a.Final[s];
            ruleOf[b] = a.RuleOf[s];
            for (int c = 0; c < classes; c++)
            {
                int t = a.Next[s * classes + c];
                newNext[b * classes + c] = t < 0 ? -1 : block[t];
            }
            for (int k = a.RefOffsets[s]; k < a.RefOffsets[s + 1]; k++)
            {
                refRule.Add(a.RefRule[k]);
                refTarget.Add(block[a.RefTarget[k]]);
            }
            refOffsets[b + 1] = refRule.Count;
        }
        for (int r = 0; r < a.RuleStart.Length; r++) a.RuleStart[r] = block[a.RuleStart[r]];
        a.Next = newNext;
        a.Final = final;
        a.RuleOf = ruleOf;
        a.RefOffsets = refOffsets;
        a.RefRule = refRule.ToArray();
        a.RefTarget = refTarget.ToArray();
        a.StateCount = blocks;
        a.HasBytes = new bool[blocks];
        for (int b = 0; b < blocks; b++)
            for (int c = 0; c < classes; c++)
                if (newNext[b * classes + c] >= 0) { a.HasBytes[b] = true; break; }
    }

    /// <summary>One round: the new block of each state from its signature; returns the number of blocks.</summary>
    private static int Refine(GrammarAutomaton a, int[] block, bool initial)
    {
        int n = a.StateCount, classes = a.ClassCount;
        var ids = new Dictionary<Signature, int>();
        var result = new int[n];
        var buffer = new List<int>();
        for (int s = 0; s < n; s++)
        {
            buffer.Clear();
            buffer.Add(a.RuleOf[s]);
            buffer.Add(a.Final[s] ? 1 : 0);
            if (!initial)
            {
                buffer.Add(block[s]);
                for (int c = 0; c < classes; c++)
                {
                    int t = a.Next[s * classes + c];
                    buffer.Add(t < 0 ? -1 : block[t]);
                }
            }
            for (int k = a.RefOffsets[s]; k < a.RefOffsets[s + 1]; k++)
            {
                buffer.Add(a.RefRule[k]);
                if (!initial) buffer.Add(block[a.RefTarget[k]]);
            }
            var sig = new Signature(buffer.ToArray());
            if (!ids.TryGetValue(sig, out int id)) ids[sig] = id = ids.Count;
            result[s] = id;
        }
        result.CopyTo(block, 0);
        return ids.Count;
    }

    private readonly struct Signature(int[] values) : IEquatable<Signature>
    {
        private readonly int[] _values = values;
        private readonly int _hash = Hash(values);

        private static int Hash(int[] values)
        {
            var h = new HashCode();
            foreach (int v in values) h.Add(v);
            return h.ToHashCode();
        }

        public bool Equals(Signature other) => _hash == other._hash && _values.AsSpan().SequenceEqual(other._values);
        public override bool Equals(object? obj) => obj is Signature s && Equals(s);
        public override int GetHashCode() => _hash;
    }
}
