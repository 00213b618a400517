namespace QwenSharp.Grammar;

/// <summary>
/// A grammar as a recursive transition network over bytes: every rule is a DFA whose edges read a byte (by byte
/// class) or call another rule (push; the callee's final states return). Repetitions are loops inside one rule's
/// DFA, so matching never recurses for them. States are numbered across all rules. Built from GBNF text; the
/// checks llama.cpp makes (undefined rule, missing root, left recursion) plus one it does not (every rule must
/// derive some finite text) are made here. Immutable once built.
/// </summary>
internal sealed class GrammarAutomaton
{
    /// <summary>Most DFA states a grammar may take, all rules together.</summary>
    public const int MaxStates = 100_000;

    public readonly byte[] ByteClass = new byte[256];
    public int ClassCount;
    /// <summary>state * ClassCount + class → next state, or −1.</summary>
    public int[] Next = [];
    public bool[] Final = [];
    public bool[] HasBytes = [];
    /// <summary>Rule calls of state s: indices RefOffsets[s] .. RefOffsets[s+1] of RefRule/RefTarget (target: the state after return).</summary>
    public int[] RefOffsets = [], RefRule = [], RefTarget = [];
    public int[] RuleOf = [];
    public int[] RuleStart = [];
    public string[] RuleNames = [];
    public int[] RulePositions = [];
    public bool[] NullableRule = [];
    /// <summary>Bytes that may come right after rule r completes, anywhere: Follow[4r .. 4r+3] as a 256-bit set.</summary>
    public ulong[] Follow = [];
    /// <summary>First bytes state s may read, its calls included: FirstBytes[4s .. 4s+3].</summary>
    public ulong[] FirstBytes = [];
    public int Root;
    public int StateCount;
    public string Text = "";

    public int Step(int state, byte b) => Next[state * ClassCount + ByteClass[b]];

    public static GrammarAutomaton Build(string text, string rootRule)
    {
        var parsed = GbnfParser.Parse(text);
        var defined = new Dictionary<string, GbnfRule>(StringComparer.Ordinal);
        foreach (var r in parsed) defined[r.Name] = r;
        if (!defined.ContainsKey(rootRule))
            throw new GrammarException($"GBNF error: the grammar has no rule '{rootRule}' to start from.");
        foreach (var r in parsed) CheckReferences(text, r, defined);

        // Rules reachable from the root, in order of first reference; hoisted repetition items append to the list.
        var rules = new List<(string Name, int Position, GbnfExpr Body)>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        int IndexOf(string name)
        {
            if (!index.TryGetValue(name, out int i))
            {
                i = rules.Count;
                index[name] = i;
                var r = defined[name];
                rules.Add((name, r.Position, r.Body));
            }
            return i;
        }
        var inlined = RuleInlining.Choose(defined);
        inlined.Remove(rootRule);
        var nfas = new List<RuleNfa>();
        IndexOf(rootRule);
        // Unreachable rules are compiled too, so that they are checked as llama.cpp checks them (left recursion).
        foreach (var r in parsed) if (r.Name != rootRule && !inlined.ContainsKey(r.Name)) IndexOf(r.Name);
        for (int i = 0; i < rules.Count; i++)
        {
            var (name, position, body) = rules[i];
            int hoisted = 0;
            int Hoist(GbnfExpr e)
            {
                rules.Add(($"{name}-repeat-{++hoisted}", e.Position, e));
                return rules.Count - 1;
            }
            nfas.Add(RuleNfa.Build(text, name, body, IndexOf, Hoist, inlined, n => defined[n].Body));
        }

        var a = new GrammarAutomaton { Text = text, Root = 0 };
        a.ComputeByteClasses(nfas);
        a.Determinize(nfas, rules.Select(r => r.Name).ToArray());
        a.RulePositions = rules.Select(r => r.Position).ToArray();
        DfaMinimizer.Minimize(a);
        GrammarAnalysis.Run(a);
        return a;
    }

    private static void CheckReferences(string text, GbnfRule rule, Dictionary<string, GbnfRule> defined)
    {
        var pending = new Stack<GbnfExpr>();
        pending.Push(rule.Body);
        while (pending.Count > 0)
        {
            switch (pending.Pop())
            {
                case GbnfRuleRef r when !defined.ContainsKey(r.Name):
                    throw new GrammarException($"GBNF error at {GbnfParser.Where(text, r.Position)}: undefined rule '{r.Name}' (used in rule '{rule.Name}').");
                case GbnfSequence s: foreach (var i in s.Items) pending.Push(i); break;
                case GbnfChoice c: foreach (var i in c.Alternatives) pending.Push(i); break;
                case GbnfRepeat rep: pending.Push(rep.Item); break;
            }
        }
    }

    private void ComputeByteClasses(List<RuleNfa> nfas)
    {
        var boundary = new bool[257];
        boundary[0] = true;
        foreach (var nfa in nfas)
            foreach (var edges in nfa.Bytes)
                foreach (var (lo, hi, _) in edges) { boundary[lo] = true; boundary[hi + 1] = true; }
        int cls = -1;
        for (int b = 0; b < 256; b++)
        {
            if (boundary[b]) cls++;
            ByteClass[b] = (byte)cls;
        }
        ClassCount = cls + 1;
    }

    private void Determinize(List<RuleNfa> nfas, string[] names)
    {
        var next = new List<int>();
        var final = new List<bool>();
        var refOffsets = new List<int> { 0 };
        var refRule = new List<int>();
        var refTarget = new List<int>();
        var ruleOf = new List<int>();
        var ruleStart = new int[nfas.Count];
        for (int r = 0; r < nfas.Count; r++)
        {
            var nfa = nfas[r];
            var stamp = new int[nfa.Count];
            int generation = 0;
            int[] Closure(IEnumerable<int> seeds)
            {
                generation++;
                var result = new List<int>();
                var stack = new Stack<int>();
                foreach (int s in seeds)
                    if (stamp[s] != generation) { stamp[s] = generation; stack.Push(s); }
                while (stack.Count > 0)
                {
                    int s = stack.Pop();
                    result.Add(s);
                    foreach (int t in nfa.Epsilon[s])
                        if (stamp[t] != generation) { stamp[t] = generation; stack.Push(t); }
                }
                result.Sort();
                return result.ToArray();
            }
            int offset = final.Count;
            var ids = new Dictionary<int[], int>(IntArrayComparer.Instance);
            var sets = new List<int[]>();
            int Intern(int[] set)
            {
                if (ids.TryGetValue(set, out int id)) return id;
                id = sets.Count;
                if (offset + id >= MaxStates)
                    throw new GrammarException($"Grammar needs more than {MaxStates} automaton states (at rule '{names[r]}'); simplify it or lower its repetition bounds.");
                ids[set] = id;
                sets.Add(set);
                return id;
            }
            ruleStart[r] = offset + Intern(Closure([nfa.Start]));
            var perClass = new List<int>[ClassCount];
            for (int c = 0; c < ClassCount; c++) perClass[c] = [];
            for (int d = 0; d < sets.Count; d++)
            {
                var set = sets[d];
                foreach (var l in perClass) l.Clear();
                var calls = new SortedDictionary<int, List<int>>();
                bool isFinal = false;
                foreach (int s in set)
                {
                    if (s == nfa.Accept) isFinal = true;
                    foreach (var (lo, hi, to) in nfa.Bytes[s])
                        for (int c = ByteClass[lo]; c <= ByteClass[hi]; c++) perClass[c].Add(to);
                    foreach (var (rule, to) in nfa.Refs[s])
                    {
                        if (!calls.TryGetValue(rule, out var l)) calls[rule] = l = [];
                        l.Add(to);
                    }
                }
                final.Add(isFinal);
                ruleOf.Add(r);
                for (int c = 0; c < ClassCount; c++)
                    next.Add(perClass[c].Count == 0 ? -1 : offset + Intern(Closure(perClass[c])));
                foreach (var (rule, targets) in calls)
                {
                    refRule.Add(rule);
                    refTarget.Add(offset + Intern(Closure(targets)));
                }
                refOffsets.Add(refRule.Count);
            }
        }
        Next = next.ToArray();
        Final = final.ToArray();
        StateCount = Final.Length;
        RefOffsets = refOffsets.ToArray();
        RefRule = refRule.ToArray();
        RefTarget = refTarget.ToArray();
        RuleOf = ruleOf.ToArray();
        RuleStart = ruleStart;
        RuleNames = names;
        HasBytes = new bool[StateCount];
        for (int s = 0; s < StateCount; s++)
            for (int c = 0; c < ClassCount; c++)
                if (Next[s * ClassCount + c] >= 0) { HasBytes[s] = true; break; }
    }

    private sealed class IntArrayComparer : IEqualityComparer<int[]>
    {
        public static readonly IntArrayComparer Instance = new();
        public bool Equals(int[]? x, int[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(int[] obj)
        {
            var h = new HashCode();
            foreach (int v in obj) h.Add(v);
            return h.ToHashCode();
        }
    }
}
