namespace QwenSharp.Grammar;

/// <summary>
/// Static facts about a <see cref="GrammarAutomaton"/>, computed as fixpoints: which rules derive the empty text
/// (nullable), which derive some finite text (productive: refused otherwise), left recursion (refused, as llama.cpp
/// refuses it: a rule that can call itself before reading a byte would push frames forever), the first bytes of
/// every state and the bytes that may follow each rule (used to prune the context-dependent tokens of the mask cache).
/// </summary>
internal static class GrammarAnalysis
{
    public static void Run(GrammarAutomaton a)
    {
        int rules = a.RuleStart.Length, states = a.StateCount;
        a.NullableRule = ReachFinal(a, viaBytes: false);
        var productive = ReachFinal(a, viaBytes: true);
        var barren = Enumerable.Range(0, rules).Where(r => !productive[r]).ToList();
        if (barren.Count > 0)
        {
            // Name the rules; point at one other than the root when there is one (the root is usually barren only
            // because it calls the culprit).
            int at = barren.FirstOrDefault(r => r != a.Root, barren[0]);
            throw new GrammarException(
                $"GBNF error at {GbnfParser.Where(a.Text, a.RulePositions[at])}: rule '{a.RuleNames[at]}' derives no finite text (every expansion calls a rule that never ends; rules without end: {string.Join(", ", barren.Take(8).Select(r => a.RuleNames[r]))}).");
        }
        CheckLeftRecursion(a);

        // nullableState[s]: s can reach a final state of its rule without reading a byte.
        var nullableState = new bool[states];
        for (bool changed = true; changed;)
        {
            changed = false;
            for (int s = states - 1; s >= 0; s--)
            {
                if (nullableState[s]) continue;
                bool v = a.Final[s];
                for (int k = a.RefOffsets[s]; !v && k < a.RefOffsets[s + 1]; k++)
                    v = a.NullableRule[a.RefRule[k]] && nullableState[a.RefTarget[k]];
                if (v) { nullableState[s] = true; changed = true; }
            }
        }

        var first = new ulong[4 * states];
        for (int s = 0; s < states; s++)
            for (int b = 0; b < 256; b++)
                if (a.Step(s, (byte)b) >= 0) first[4 * s + (b >> 6)] |= 1UL << b;
        for (bool changed = true; changed;)
        {
            changed = false;
            for (int s = states - 1; s >= 0; s--)
                for (int k = a.RefOffsets[s]; k < a.RefOffsets[s + 1]; k++)
                {
                    int r = a.RefRule[k];
                    changed |= Union(first, 4 * s, first, 4 * a.RuleStart[r]);
                    if (a.NullableRule[r]) changed |= Union(first, 4 * s, first, 4 * a.RefTarget[k]);
                }
        }
        a.FirstBytes = first;

        var follow = new ulong[4 * rules];
        for (bool changed = true; changed;)
        {
            changed = false;
            for (int s = 0; s < states; s++)
                for (int k = a.RefOffsets[s]; k < a.RefOffsets[s + 1]; k++)
                {
                    int r = a.RefRule[k], t = a.RefTarget[k];
                    changed |= Union(follow, 4 * r, first, 4 * t);
                    if (nullableState[t]) changed |= Union(follow, 4 * r, follow, 4 * a.RuleOf[t]);
                }
        }
        a.Follow = follow;
    }

    private static bool Union(ulong[] into, int at, ulong[] from, int fromAt)
    {
        bool changed = false;
        for (int i = 0; i < 4; i++)
        {
            ulong v = into[at + i] | from[fromAt + i];
            if (v != into[at + i]) { into[at + i] = v; changed = true; }
        }
        return changed;
    }

    /// <summary>Rules whose start reaches one of their final states through calls of rules already known to (and,
    /// with <paramref name="viaBytes"/>, byte edges): a worklist that re-examines a rule's callers when it turns true.</summary>
    private static bool[] ReachFinal(GrammarAutomaton a, bool viaBytes)
    {
        int rules = a.RuleStart.Length;
        var callers = new List<int>[rules];
        for (int r = 0; r < rules; r++) callers[r] = [];
        for (int s = 0; s < a.StateCount; s++)
            for (int k = a.RefOffsets[s]; k < a.RefOffsets[s + 1]; k++)
                callers[a.RefRule[k]].Add(a.RuleOf[s]);
        var result = new bool[rules];
        var stamp = new int[a.StateCount];
        int generation = 0;
        var stack = new Stack<int>();
        var queue = new Queue<int>(Enumerable.Range(0, rules).Reverse());
        while (queue.Count > 0)
        {
            int r = queue.Dequeue();
            if (result[r]) continue;
            generation++;
            stack.Clear();
            stack.Push(a.RuleStart[r]);
            stamp[a.RuleStart[r]] = generation;
            bool reached = false;
            while (stack.Count > 0 && !reached)
            {
                int s = stack.Pop();
                if (a.Final[s]) { reached = true; break; }
                if (viaBytes)
                    for (int c = 0; c < a.ClassCount; c++)
                    {
                        int t = a.Next[s * a.ClassCount + c];
                        if (t >= 0 && stamp[t] != generation) { stamp[t] = generation; stack.Push(t); }
                    }
                for (int k = a.RefOffsets[s]; k < a.RefOffsets[s + 1]; k++)
                {
                    int t = a.RefTarget[k];
                    if (result[a.RefRule[k]] && stamp[t] != generation) { stamp[t] = generation; stack.Push(t); }
                }
            }
            if (!reached) continue;
            result[r] = true;
            foreach (int caller in callers[r])
                if (!result[caller]) queue.Enqueue(caller);
        }
        return result;
    }

    private static void CheckLeftRecursion(GrammarAutomaton a)
    {
        int rules = a.RuleStart.Length;
        // calls[r]: the rules r may call before reading a byte.
        var calls = new List<int>[rules];
        var seen = new bool[a.StateCount];
        var stack = new Stack<int>();
        for (int r = 0; r < rules; r++)
        {
            var set = new HashSet<int>();
            stack.Push(a.RuleStart[r]);
            seen[a.RuleStart[r]] = true;
            var visited = new List<int> { a.RuleStart[r] };
            while (stack.Count > 0)
            {
                int s = stack.Pop();
                for (int k = a.RefOffsets[s]; k < a.RefOffsets[s + 1]; k++)
                {
                    set.Add(a.RefRule[k]);
                    int t = a.RefTarget[k];
                    if (a.NullableRule[a.RefRule[k]] && !seen[t]) { seen[t] = true; visited.Add(t); stack.Push(t); }
                }
            }
            foreach (int s in visited) seen[s] = false;
            calls[r] = set.Order().ToList();
        }
        // Iterative depth-first search for a cycle.
        var color = new byte[rules];
        var parent = new int[rules];
        for (int root = 0; root < rules; root++)
        {
            if (color[root] != 0) continue;
            var dfs = new Stack<(int Rule, int Next)>();
            dfs.Push((root, 0));
            color[root] = 1;
            while (dfs.Count > 0)
            {
                var (r, i) = dfs.Pop();
                if (i == calls[r].Count) { color[r] = 2; continue; }
                dfs.Push((r, i + 1));
                int q = calls[r][i];
                if (color[q] == 1)
                {
                    var path = new List<string>();
                    for (int x = r; x != q; x = parent[x]) path.Add(a.RuleNames[x]);
                    path.Add(a.RuleNames[q]);
                    path.Reverse();
                    path.Add(a.RuleNames[q]);
                    throw new GrammarException(
                        $"GBNF error at {GbnfParser.Where(a.Text, a.RulePositions[q])}: rule '{a.RuleNames[q]}' is left-recursive ({string.Join(" -> ", path)}) and llama.cpp refuses left recursion too; rewrite it with a repetition.");
                }
                if (color[q] == 0)
                {
                    color[q] = 1;
                    parent[q] = r;
                    dfs.Push((q, 0));
                }
            }
        }
    }
}
