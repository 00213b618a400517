namespace QwenSharp.Text.Jinja;

/// <summary>
/// The depth of a parsed template, measured without recursion. The parser builds operator chains
/// (<c>1+1+…</c>, <c>a.b.c…</c>, <c>x|f|g…</c>) in a loop, so a short template can produce a tree
/// thousands of levels deep that the interpreter, which recurses, could not evaluate; Jinja2 fails to
/// compile such a template too (RecursionError). Refusing it at parse time makes it a load-time error.
/// </summary>
internal static class SyntaxDepth
{
    /// <exception cref="TemplateException">a node lies deeper than <paramref name="maxDepth"/>, with its line</exception>
    public static void Check(IReadOnlyList<Stmt> body, int maxDepth)
    {
        var pending = new Stack<(object Node, int Depth)>();
        foreach (var stmt in body) pending.Push((stmt, 1));
        while (pending.Count > 0)
        {
            var (node, depth) = pending.Pop();
            if (depth > maxDepth)
                throw TemplateException.Limit($"the template nests deeper than {maxDepth} levels (TemplateLimits.MaxDepth)", LineOf(node));
            foreach (var child in Children(node))
                if (child != null) pending.Push((child, depth + 1));
        }
    }

    private static int LineOf(object node) => node switch
    {
        Stmt s => s.Line,
        Expr e => e.Line,
        AssignTarget t => t.Line,
        _ => 0,
    };

    private static IEnumerable<object?> Children(object node)
    {
        switch (node)
        {
            case PrintStmt p: return [p.Value];
            case IfStmt i:
                return i.Branches.SelectMany(b => b.Body.Prepend<object?>(b.Test)).Concat(i.Else ?? []);
            case ForStmt f:
                return new object?[] { f.Target, f.Iterable, f.Filter }.Concat(f.Body).Concat(f.Else ?? []);
            case SetStmt s: return [s.Target, s.Value];
            case SetBlockStmt sb: return sb.Body.Prepend<object?>(sb.Target).Concat(sb.Filters);
            case MacroStmt m: return m.Parameters.Select(p => (object?)p.Default).Concat(m.Body);
            case WithStmt w: return w.Assignments.SelectMany(a => new object?[] { a.Target, a.Value }).Concat(w.Body);
            case BlockStmt b: return b.Body;
            case ListExpr l: return l.Items;
            case TupleExpr t: return t.Items;
            case DictExpr d: return d.Items.SelectMany(kv => new object?[] { kv.Key, kv.Value });
            case GetAttrExpr a: return [a.Target];
            case GetItemExpr gi: return [gi.Target, gi.Index];
            case SliceExpr s: return [s.Start, s.Stop, s.Step];
            case CallExpr c: return c.Args.Prepend(c.Callee).Concat(c.Kwargs.Select(k => k.Value));
            case FilterExpr f: return f.Args.Prepend(f.Value).Concat(f.Kwargs.Select(k => k.Value));
            case TestExpr t: return t.Args.Prepend(t.Value);
            case UnaryExpr u: return [u.Operand];
            case BinaryExpr b: return [b.Left, b.Right];
            case CompareExpr c: return c.Rest.Select(r => r.Operand).Prepend(c.First);
            case ConditionalExpr ce: return [ce.Test, ce.Then, ce.Otherwise];
            case TupleTarget tt: return tt.Items;
            default: return [];
        }
    }
}
