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

        var names = rules.Keys.ToList();
        var id = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++) id[names[i]] = i;
        var edges = names.Select(n => (IReadOnlyList<int>)refs[n].Where(id.ContainsKey).Select(q => id[q]).ToList()).ToList();
        var cyclic = RuleCycles.OnCycle(edges);
        // Callees before callers, so that a caller's size counts its inlined callees' expanded sizes.
        var order = new List<string>();
        var done = new bool[names.Count];
        var work = new Stack<(int V, int Next)>();
        for (int root = 0; root < names.Count; root++)
        {
            if (done[root]) continue;
            done[root] = true;
            work.Push((root, 0));
            while (work.Count > 0)
            {
                var (v, i) = work.Pop();
                if (i == edges[v].Count) { order.Add(names[v]); continue; }
                work.Push((v, i + 1));
                int w = edges[v][i];
                if (!done[w]) { done[w] = true; work.Push((w, 0)); }
            }
        }

        var size = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in order)
        {
            if (cyclic[id[r]]) continue;
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
