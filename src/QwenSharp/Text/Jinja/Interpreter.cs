using System.Text;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// Walks the syntax tree and writes the output, with Jinja2's runtime rules: output is Python's str() of
/// each value (Undefined prints nothing), loop bodies and macro calls get their own frame, and any error
/// is tagged with the line of the innermost node it came from. Every statement, expression, loop pass and
/// macro call is charged to the render's <see cref="RenderBudget"/>, which also bounds the recursion.
/// </summary>
internal sealed class Interpreter
{
    private enum Flow { Normal, Break, Continue }

    private readonly IReadOnlyDictionary<string, object?> _globals;
    private readonly RenderBudget _budget;

    public Interpreter(IReadOnlyDictionary<string, object?> globals, RenderBudget budget)
    {
        _globals = globals;
        _budget = budget;
    }

    /// <summary>A .NET exception from a value of an unexpected type or shape (InvalidCast, NullReference,
    /// KeyNotFound, IndexOutOfRange, Overflow…): a bug to fix, but for the caller a template error with the
    /// line, not a crash. Out-of-memory is left alone: the budget exists so that it cannot happen.</summary>
    public static bool IsInternalFailure(Exception e) => e is not (TemplateException or OutOfMemoryException);

    private static TemplateException InternalFailure(Exception e, int line) =>
        new(TemplateErrorKind.Runtime, $"internal error ({e.GetType().Name}: {e.Message})", null, line);

    public void RenderBody(IReadOnlyList<Stmt> body, Scope scope, StringBuilder output) => ExecBody(body, scope, output);

    private Flow ExecBody(IReadOnlyList<Stmt> body, Scope scope, StringBuilder output)
    {
        foreach (var stmt in body)
        {
            var flow = Exec(stmt, scope, output);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow Exec(Stmt stmt, Scope scope, StringBuilder output)
    {
        try
        {
            _budget.Enter();
            var flow = ExecCore(stmt, scope, output);
            _budget.Leave();
            return flow;
        }
        catch (TemplateException e) when (e.Line == 0)
        {
            e.Line = stmt.Line;
            throw;
        }
        catch (Exception e) when (IsInternalFailure(e))
        {
            throw InternalFailure(e, stmt.Line);
        }
    }

    private Flow ExecCore(Stmt stmt, Scope scope, StringBuilder output)
    {
        switch (stmt)
        {
            case TextStmt t:
                output.Append(t.Text);
                _budget.CheckOutput(output);
                return Flow.Normal;
            case PrintStmt p:
                output.Append(PyFormat.Str(Eval(p.Value, scope), _budget));
                _budget.CheckOutput(output);
                return Flow.Normal;
            case IfStmt i:
                foreach (var (test, body) in i.Branches)
                    if (PyOperators.IsTrue(Eval(test, scope))) return ExecBody(body, scope, output);
                return i.Else != null ? ExecBody(i.Else, scope, output) : Flow.Normal;
            case ForStmt f:
                ExecFor(f, scope, output);
                return Flow.Normal;
            case SetStmt s:
                Assign(s.Target, Eval(s.Value, scope), scope);
                return Flow.Normal;
            case SetBlockStmt sb:
            {
                var inner = new StringBuilder();
                ExecBody(sb.Body, scope, inner);
                object? value = inner.ToString();
                foreach (var filter in sb.Filters) value = ApplyFilter(filter, value, scope);
                Assign(sb.Target, value, scope);
                return Flow.Normal;
            }
            case MacroStmt m:
                scope.Set(m.Name, MakeMacro(m, scope));
                return Flow.Normal;
            case WithStmt w:
            {
                var inner = new Scope(scope);
                foreach (var (target, value) in w.Assignments) Assign(target, Eval(value, scope), inner);
                return ExecBody(w.Body, inner, output);
            }
            case BlockStmt b:
                return ExecBody(b.Body, new Scope(scope), output);
            case BreakStmt:
                return Flow.Break;
            case ContinueStmt:
                return Flow.Continue;
            default:
                throw TemplateException.Unsupported(stmt.GetType().Name, stmt.Line);
        }
    }

    private void ExecFor(ForStmt f, Scope scope, StringBuilder output)
    {
        var items = PyOperators.ToList(Eval(f.Iterable, scope), _budget);
        if (f.Filter != null)
        {
            items = items.Where(item =>
            {
                _budget.Step();
                var probe = new Scope(scope);
                Assign(f.Target, item, probe);
                return PyOperators.IsTrue(Eval(f.Filter, probe));
            }).ToList();
        }
        // Jinja2 runs the else block unless some iteration's body ran to its end: it clears its
        // "no iteration" flag after the body, so a loop whose every pass hits break or continue still
        // takes the else branch (compiler.py, visit_For).
        bool completed = false;
        var loop = new LoopContext(items);
        for (int i = 0; i < items.Count; i++)
        {
            _budget.Step();
            loop.Index0 = i;
            var frame = new Scope(scope);
            frame.Set("loop", loop);
            Assign(f.Target, items[i], frame);
            var flow = ExecBody(f.Body, frame, output);
            if (flow == Flow.Normal) completed = true;
            else if (flow == Flow.Break) break;
        }
        if (!completed && f.Else != null) ExecBody(f.Else, new Scope(scope), output);
    }

    private void Assign(AssignTarget target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameTarget n:
                scope.Set(n.Name, value);
                break;
            case AttributeTarget a:
                if (!scope.TryGet(a.Object, out var obj) && !_globals.TryGetValue(a.Object, out obj)) obj = null;
                if (obj is not Namespace ns)
                    throw TemplateException.Runtime($"cannot assign attribute '{a.Attribute}' on '{a.Object}', which is not a namespace object");
                ns.Attributes[a.Attribute] = value;
                break;
            case TupleTarget t:
            {
                var values = value as IReadOnlyList<object?> ?? PyOperators.ToList(value, _budget);
                if (values.Count < t.Items.Count)
                    throw TemplateException.Runtime($"not enough values to unpack (expected {t.Items.Count}, got {values.Count})");
                if (values.Count > t.Items.Count)
                    throw TemplateException.Runtime($"too many values to unpack (expected {t.Items.Count})");
                for (int i = 0; i < values.Count; i++) Assign(t.Items[i], values[i], scope);
                break;
            }
        }
    }

    private JinjaFunction MakeMacro(MacroStmt m, Scope defining) => new(m.Name, args =>
    {
        if (args.Positional.Count > m.Parameters.Count)
            throw TemplateException.Runtime($"macro '{m.Name}' takes not more than {m.Parameters.Count} argument(s)");
        var frame = new Scope(defining);
        for (int i = 0; i < m.Parameters.Count; i++)
        {
            var (name, fallback) = m.Parameters[i];
            object? value;
            if (i < args.Positional.Count) value = args.Positional[i];
            else if (args.Keyword.TryGetValue(name, out var kw)) value = kw;
            else value = fallback != null ? Eval(fallback, frame) : new Undefined($"parameter '{name}' was not provided");
            frame.Set(name, value);
        }
        foreach (var key in args.Keyword.Keys)
        {
            _budget.Charge(m.Parameters.Count / TemplateLimits.CharactersPerStep);
            if (!m.Parameters.Any(p => p.Name == key))
                throw TemplateException.Runtime($"macro '{m.Name}' takes no keyword argument '{key}'");
        }
        var output = new StringBuilder();
        _budget.EnterMacro(m.Name);
        ExecBody(m.Body, frame, output);
        _budget.LeaveMacro();
        return output.ToString();
    });

    public object? Eval(Expr expr, Scope scope)
    {
        try
        {
            _budget.Enter();
            var value = EvalCore(expr, scope);
            _budget.Leave();
            return value;
        }
        catch (TemplateException e) when (e.Line == 0)
        {
            e.Line = expr.Line;
            throw;
        }
        catch (Exception e) when (IsInternalFailure(e))
        {
            throw InternalFailure(e, expr.Line);
        }
    }

    private object? EvalCore(Expr expr, Scope scope)
    {
        switch (expr)
        {
            case LiteralExpr l:
                return l.Value;
            case NameExpr n:
                if (scope.TryGet(n.Name, out var v)) return v;
                return _globals.TryGetValue(n.Name, out var g) ? g : Undefined.Named(n.Name);
            case ListExpr l:
            {
                var list = new List<object?>(l.Items.Count);
                foreach (var item in l.Items) list.Add(Eval(item, scope));
                return list;
            }
            case TupleExpr t:
            {
                var items = new object?[t.Items.Count];
                for (int i = 0; i < items.Length; i++) items[i] = Eval(t.Items[i], scope);
                return new PyTuple(items);
            }
            case DictExpr d:
            {
                var dict = new PyDict();
                foreach (var (k, val) in d.Items) dict[Eval(k, scope)] = Eval(val, scope);
                return dict;
            }
            case GetAttrExpr a:
                return PyMethods.GetAttr(Eval(a.Target, scope), a.Name);
            case GetItemExpr gi:
            {
                var target = Eval(gi.Target, scope);
                if (gi.Index is SliceExpr s)
                    return PyMethods.Slice(target, SliceBound(s.Start, scope), SliceBound(s.Stop, scope), SliceBound(s.Step, scope), _budget);
                return PyMethods.GetItem(target, Eval(gi.Index, scope), _budget);
            }
            case SliceExpr:
                throw TemplateException.Runtime("a slice is only allowed inside []");
            case CallExpr c:
                return Call(Eval(c.Callee, scope), Arguments(c.Args, c.Kwargs, scope));
            case FilterExpr f:
                return ApplyFilter(f, Eval(f.Value, scope), scope);
            case TestExpr t:
            {
                var args = t.Args.Select(a => Eval(a, scope)).ToList();
                bool result = Tests.Apply(t.Name, Eval(t.Value, scope), args, _budget);
                return t.Negated ? !result : result;
            }
            case UnaryExpr u:
            {
                var operand = Eval(u.Operand, scope);
                return u.Op switch
                {
                    "not" => !PyOperators.IsTrue(operand),
                    "-" => PyOperators.Negate(operand),
                    _ => operand is bool or long or double ? operand
                        : operand is Undefined und ? throw und.Error()
                        : throw TemplateException.Runtime($"bad operand type for unary +: '{PyOperators.TypeName(operand)}'"),
                };
            }
            case BinaryExpr b:
            {
                var left = Eval(b.Left, scope);
                switch (b.Op)
                {
                    case "and": return PyOperators.IsTrue(left) ? Eval(b.Right, scope) : left;
                    case "or": return PyOperators.IsTrue(left) ? left : Eval(b.Right, scope);
                    case "~":
                    {
                        string l = PyFormat.Str(left, _budget), r = PyFormat.Str(Eval(b.Right, scope), _budget);
                        _budget.BuildString((long)l.Length + r.Length, "'~'");
                        return l + r;
                    }
                    default: return PyOperators.Arithmetic(b.Op, left, Eval(b.Right, scope), _budget);
                }
            }
            case CompareExpr c:
            {
                var left = Eval(c.First, scope);
                foreach (var (op, operandExpr) in c.Rest)
                {
                    var right = Eval(operandExpr, scope);
                    bool ok = op switch
                    {
                        "==" => PyOperators.AreEqual(left, right, _budget),
                        "!=" => !PyOperators.AreEqual(left, right, _budget),
                        "<" => PyOperators.Compare(left, right, op, _budget) < 0,
                        "<=" => PyOperators.Compare(left, right, op, _budget) <= 0,
                        ">" => PyOperators.Compare(left, right, op, _budget) > 0,
                        ">=" => PyOperators.Compare(left, right, op, _budget) >= 0,
                        "in" => PyOperators.Contains(right, left, _budget),
                        _ => !PyOperators.Contains(right, left, _budget),
                    };
                    if (!ok) return false;
                    left = right;
                }
                return true;
            }
            case ConditionalExpr ce:
                if (PyOperators.IsTrue(Eval(ce.Test, scope))) return Eval(ce.Then, scope);
                return ce.Otherwise != null ? Eval(ce.Otherwise, scope)
                    : new Undefined("the inline if-expression evaluated to false and no else section was defined");
            default:
                throw TemplateException.Unsupported(expr.GetType().Name);
        }
    }

    private long? SliceBound(Expr? e, Scope scope)
    {
        if (e == null) return null;
        var v = Eval(e, scope);
        if (v == null) return null;
        return PyOperators.AsInt(v) ?? throw TemplateException.Runtime($"slice indices must be integers or None, not {PyOperators.TypeName(v)}");
    }

    private CallArguments Arguments(IReadOnlyList<Expr> args, IReadOnlyList<(string Name, Expr Value)> kwargs, Scope scope)
    {
        var positional = args.Select(a => Eval(a, scope)).ToList();
        var keyword = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in kwargs) keyword[name] = Eval(value, scope);
        return new CallArguments(positional, keyword);
    }

    private object? ApplyFilter(FilterExpr f, object? value, Scope scope) =>
        Filters.Apply(f.Name, value, Arguments(f.Args, f.Kwargs, scope), _budget);

    private object? Call(object? callee, CallArguments args) => callee switch
    {
        JinjaFunction fn => fn.Invoke(args),
        BoundMethod m => PyMethods.Call(m, args, _budget),
        Undefined u => throw u.Error(),
        _ => throw TemplateException.Runtime($"'{PyOperators.TypeName(callee)}' object is not callable"),
    };
}
