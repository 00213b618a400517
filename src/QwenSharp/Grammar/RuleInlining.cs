namespace QwenSharp.Grammar;

/// <summary>
/// Chooses the rules whose body is copied into their callers instead of called: rules on no reference cycle whose
/// body, with its own inlined rules expanded, stays small. A called rule puts a frame on the stack, and a token
/// that runs past that frame's end cannot be judged by the mask cache alone (it depends on the caller); inlining
/// the small helper rules that generated grammars are full of (char, space, string) keeps such tokens rare.
/// The language is unchanged.
/// </summary>
internal static class RuleInlining
{
    /// <summary>Largest expanded body (in rough automaton states) copied into a caller.</summary>
    public const int MaxInlinedSize = 1024;

    /// <summary>Deepest chain of inlined rules inside one another (deeper ones stay calls, so building stays shallow).</summary>
    public const int MaxInlineDepth = 32;

    /// <summary>Expanded size of every inlinable rule, by name.</summary>
    public static Dictionary<string, int> Choose(Dictionary<string, GbnfRule> rules)
    {
        var refs = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (name, rule) in rules) refs[name] = References(rule.Body).Distinct().ToList();

        // Iterative depth-first post-order; a rule reached again while on the path is on a cycle.
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 on path, 2 done
        var onCycle = new HashSet<string>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var start in rules.Keys)
        {
            if (state.ContainsKey(start)) continue;
            var path = new Stack<(string Name, int Next)>();
            path.Push((start, 0));
            state[start] = 1;
            while (path.Count > 0)
            {
                var (r, i) = path.Pop();
                if (i == refs[r].Count) { state[r] = 2; order.Add(r); continue; }
                path.Push((r, i + 1));
                string q = refs[r][i];
                if (!state.TryGetValue(q, out int s)) { state[q] = 1; path.Push((q, 0)); }
                else if (s == 1)
                {
                    // Every rule on the path from q to r is on a cycle.
                    onCycle.Add(q);
                    foreach (var (n, _) in path) { onCycle.Add(n); if (n == q) break; }
                }
            }
        }
        // A rule is on a cycle when it reaches itself: reach sets iterated to a fixpoint (the path test above misses
        // cycles closed through rules already finished). A rule reaching very many rules is treated as on a cycle.
        const int MaxReach = 4096;
        var reach = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var r in order) reach[r] = new HashSet<string>(refs[r], StringComparer.Ordinal);
        for (bool changed = true; changed;)
        {
            changed = false;
            foreach (var r in order)
            {
                var set = reach[r];
                if (set.Count > MaxReach) continue;
                int before = set.Count;
                foreach (var q in refs[r]) set.UnionWith(reach[q]);
                if (set.Count != before) changed = true;
            }
        }
        foreach (var r in order)
            if (reach[r].Contains(r) || reach[r].Count > MaxReach) onCycle.Add(r);

        var size = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in order)
        {
            if (onCycle.Contains(r)) continue;
            long s = Size(rules[r].Body, name => size.TryGetValue(name, out int n) ? n : 1);
            if (s <= MaxInlinedSize) size[r] = (int)s;
        }
        return size;
    }

    private static IEnumerable<string> References(GbnfExpr root)
    {
        var pending = new Stack<GbnfExpr>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            switch (pending.Pop())
            {
                case GbnfRuleRef r: yield return r.Name; break;
                case GbnfSequence s: foreach (var i in s.Items) pending.Push(i); break;
                case GbnfChoice c: foreach (var i in c.Alternatives) pending.Push(i); break;
                case GbnfRepeat rep: pending.Push(rep.Item); break;
            }
        }
    }

    /// <summary>A rough count of the states an expression takes, a reference counting as <paramref name="refSize"/> says
    /// (iterative: the tree may be deep).</summary>
    public static int Size(GbnfExpr root, Func<string, int> refSize)
    {
        long size = 0;
        var pending = new Stack<(GbnfExpr, long)>();
        pending.Push((root, 1));
        while (pending.Count > 0)
        {
            var (e, times) = pending.Pop();
            switch (e)
            {
                case GbnfLiteral lit: size += times * Math.Max(1, lit.CodePoints.Length); break;
                case GbnfCharClass cls: size += times * (2 + cls.Ranges.Length); break;
                case GbnfRuleRef r: size += times * refSize(r.Name); break;
                case GbnfSequence seq: foreach (var i in seq.Items) pending.Push((i, times)); break;
                case GbnfChoice ch: size += times; foreach (var i in ch.Alternatives) pending.Push((i, times)); break;
                case GbnfRepeat r: pending.Push((r.Item, Math.Min(int.MaxValue, times * (r.Max == -1 ? r.Min + 1 : Math.Max(1, r.Max))))); break;
            }
            if (size > int.MaxValue / 4) return int.MaxValue / 4;
        }
        return (int)size;
    }
}
