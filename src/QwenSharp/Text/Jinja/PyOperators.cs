using System.Numerics;
using System.Text;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// Python's semantics for the operators a template uses, since Jinja2 evaluates with Python's: truthiness
/// (empty string, list and dict are false), == across types (1 == 1.0 == True, a list never equals a
/// tuple), ordering, + - * / // % ** (true division gives a float, // and % floor), <c>in</c>, len and
/// iteration (a dict iterates its keys, a string its code points). Operations whose cost grows with their
/// operands (repetition, concatenation, container comparison, search) check and charge the render's
/// <see cref="RenderBudget"/> before they build anything.
/// </summary>
internal static class PyOperators
{
    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        bool => "bool",
        long or BigInteger => "int",
        double => "float",
        string => "str",
        PyTuple => "tuple",
        PyView view => view.TypeName,
        IReadOnlyList<object?> => "list",
        PyDict => "dict",
        Undefined => "Undefined",
        Namespace => "Namespace",
        LoopContext => "LoopContext",
        JinjaFunction => "function",
        BoundMethod => "builtin_function_or_method",
        _ => v.GetType().Name,
    };

    public static bool IsTrue(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        BigInteger bi => !bi.IsZero,
        double d => d != 0,
        string s => s.Length > 0,
        IReadOnlyList<object?> list => list.Count > 0,
        PyDict dict => dict.Count > 0,
        _ => true,
    };

    private static bool IsNumber(object? v) => v is bool or long or double or BigInteger;

    private static double ToDouble(object v) => v switch
    {
        bool b => b ? 1 : 0,
        long l => l,
        BigInteger bi => (double)bi,
        _ => (double)v,
    };

    /// <summary>An int operand (bool counts, as in Python), or null for anything else.</summary>
    public static long? AsInt(object? v) => v switch
    {
        bool b => b ? 1 : 0,
        long l => l,
        _ => null,
    };

    /// <summary>Python's ==. Without a budget (dict key lookups) only the nesting is bounded.</summary>
    public static bool AreEqual(object? a, object? b, RenderBudget? budget = null) => Equal(a, b, budget, 0);

    private static int MaxValueDepth(RenderBudget? budget) => (budget?.Limits ?? TemplateLimits.Default).MaxDepth;

    /// <summary>Each comparison is a step, so sorting, unique and <c>in</c> are charged by the comparisons they make.</summary>
    private static bool Equal(object? a, object? b, RenderBudget? budget, int depth)
    {
        budget?.Step();
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (a == null || b == null) return a == null && b == null;
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a) == ToDouble(b);
            if (a is BigInteger || b is BigInteger) return ToBig(a) == ToBig(b);
            return AsInt(a) == AsInt(b);
        }
        switch (a)
        {
            case string sa:
                if (b is not string sb) return false;
                budget?.Charge(1 + Math.Min(sa.Length, sb.Length) / TemplateLimits.CharactersPerStep);
                return sa == sb;
            case PyView va: return b is PyView vb && va.TypeName == "range" && vb.TypeName == "range" && SequenceEqual(va, vb, budget, depth);
            case PyTuple ta: return b is PyTuple tb && SequenceEqual(ta, tb, budget, depth);
            case IReadOnlyList<object?> la: return b is IReadOnlyList<object?> lb and not PyTuple and not PyView && SequenceEqual(la, lb, budget, depth);
            case PyDict da:
                if (b is not PyDict db || da.Count != db.Count) return false;
                if (depth >= MaxValueDepth(budget)) throw RenderBudget.ValueTooDeep(MaxValueDepth(budget));
                foreach (var kv in da.Items)
                    if (!db.TryGet(PyDict.KeyValue(kv.Key), out var other) || !ElementEqual(kv.Value, other, budget, depth + 1)) return false;
                return true;
            default: return ReferenceEquals(a, b);
        }
    }

    private static BigInteger ToBig(object v) => v is BigInteger bi ? bi : new BigInteger(AsInt(v)!.Value);

    /// <summary>Items of containers compare like Python's PyObject_RichCompareBool: the same object is
    /// equal to itself without a look inside.</summary>
    private static bool ElementEqual(object? a, object? b, RenderBudget? budget, int depth) =>
        (ReferenceEquals(a, b) && a != null) || Equal(a, b, budget, depth);

    private static bool SequenceEqual(IReadOnlyList<object?> a, IReadOnlyList<object?> b, RenderBudget? budget, int depth)
    {
        if (a.Count != b.Count) return false;
        if (depth >= MaxValueDepth(budget)) throw RenderBudget.ValueTooDeep(MaxValueDepth(budget));
        for (int i = 0; i < a.Count; i++)
            if (!ElementEqual(a[i], b[i], budget, depth + 1)) return false;
        return true;
    }

    /// <summary>Python's ordering for &lt; &lt;= &gt; &gt;=: numbers, strings by code point, sequences
    /// element-wise; any other pair is a TypeError.</summary>
    public static int Compare(object? a, object? b, string op, RenderBudget? budget = null) => Order(a, b, op, budget, 0);

    private static int Order(object? a, object? b, string op, RenderBudget? budget, int depth)
    {
        budget?.Step();
        if (a is Undefined ua) throw ua.Error();
        if (b is Undefined ub) throw ub.Error();
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a!).CompareTo(ToDouble(b!));
            return ToBig(a!).CompareTo(ToBig(b!));
        }
        if (a is string sa && b is string sb)
        {
            budget?.Charge(1 + Math.Min(sa.Length, sb.Length) / TemplateLimits.CharactersPerStep);
            return PyString.Compare(sa, sb);
        }
        if (a is IReadOnlyList<object?> la && b is IReadOnlyList<object?> lb && a is not PyView && b is not PyView && (a is PyTuple) == (b is PyTuple))
        {
            if (depth >= MaxValueDepth(budget)) throw RenderBudget.ValueTooDeep(MaxValueDepth(budget));
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
                if (!ElementEqual(la[i], lb[i], budget, depth + 1)) return Order(la[i], lb[i], op, budget, depth + 1);
            return la.Count.CompareTo(lb.Count);
        }
        throw TemplateException.Runtime($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static object? Arithmetic(string op, object? a, object? b, RenderBudget budget)
    {
        if (a is Undefined ua) throw ua.Error();
        if (b is Undefined ub) throw ub.Error();
        long? ia = AsInt(a), ib = AsInt(b);
        try
        {
            if (ia != null && ib != null)
            {
                long x = ia.Value, y = ib.Value;
                switch (op)
                {
                    case "+": return checked(x + y);
                    case "-": return checked(x - y);
                    case "*": return checked(x * y);
                    case "/": return y == 0 ? throw ZeroDivision("division") : (double)x / y;
                    case "//": return y == 0 ? throw ZeroDivision("integer division or modulo") : FloorDiv(x, y);
                    case "%": return y == 0 ? throw ZeroDivision("integer modulo") : x - y * FloorDiv(x, y);
                    case "**": return y >= 0 ? IntPow(x, y) : (object)Math.Pow(x, y);
                }
            }
            // Integers are 64-bit here: Python's unbounded ints (and the time and memory they can take) are
            // refused as beyond 64 bits rather than computed.
            if (IsNumber(a) && IsNumber(b) && a is not double && b is not double && op is "+" or "-" or "*" or "/" or "//" or "%" or "**")
                throw new OverflowException();
            if (IsNumber(a) && IsNumber(b))
            {
                double x = ToDouble(a!), y = ToDouble(b!);
                switch (op)
                {
                    case "+": return x + y;
                    case "-": return x - y;
                    case "*": return x * y;
                    case "/": return y == 0 ? throw ZeroDivision("float division") : x / y;
                    case "//": return y == 0 ? throw ZeroDivision("float floor division") : Math.Floor(x / y);
                    case "%":
                        if (y == 0) throw ZeroDivision("float modulo");
                        double m = x % y;
                        return m != 0 && (m < 0) != (y < 0) ? m + y : m;
                    case "**": return Math.Pow(x, y);
                }
            }
        }
        catch (OverflowException)
        {
            throw TemplateException.Unsupported($"integer arithmetic beyond 64 bits ({PyFormat.Brief(a)} {op} {PyFormat.Brief(b)})");
        }
        switch (op)
        {
            case "+" when a is string sa && b is string sb:
                budget.BuildString((long)sa.Length + sb.Length, "'+'");
                return sa + sb;
            case "+" when a is PyTuple ta && b is PyTuple tb:
                budget.BuildList((long)ta.Count + tb.Count, "'+'");
                return new PyTuple(ta.Concat(tb).ToArray());
            case "+" when a is IReadOnlyList<object?> la && b is IReadOnlyList<object?> lb && a is not (PyTuple or PyView) && b is not (PyTuple or PyView):
                budget.BuildList((long)la.Count + lb.Count, "'+'");
                return la.Concat(lb).ToList();
            case "*" when a is string s && ib != null: return Repeat(s, ib.Value, budget);
            case "*" when b is string s && ia != null: return Repeat(s, ia.Value, budget);
            case "*" when a is IReadOnlyList<object?> l and not PyView && ib != null: return RepeatList(l, ib.Value, budget);
            case "*" when b is IReadOnlyList<object?> l and not PyView && ia != null: return RepeatList(l, ia.Value, budget);
            case "%" when a is string:
                throw TemplateException.Unsupported("printf-style string formatting with '%'");
            case "+" when a is string || (a is IReadOnlyList<object?> && b is not IReadOnlyList<object?>):
                throw TemplateException.Runtime($"can only concatenate {TypeName(a)} (not \"{TypeName(b)}\") to {TypeName(a)}");
        }
        throw TemplateException.Runtime($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'");
    }

    private static TemplateException ZeroDivision(string what) => TemplateException.Runtime($"{what} by zero");

    private static long FloorDiv(long x, long y)
    {
        long q = x / y;
        return (x % y != 0 && (x < 0) != (y < 0)) ? q - 1 : q;
    }

    /// <summary>x ** y for y &gt;= 0 by squaring: at most 2·63 multiplications whatever y is, so
    /// 1 ** (10**18) is 1 at once; a result beyond 64 bits overflows (an error, see Arithmetic).</summary>
    private static long IntPow(long x, long y)
    {
        if (x is 0 or 1) return y == 0 ? 1 : x;
        if (x == -1) return (y & 1) == 0 ? 1 : -1;
        long result = 1;
        while (true)
        {
            if ((y & 1) != 0) result = checked(result * x);
            y >>= 1;
            if (y == 0) return result;
            x = checked(x * x);
        }
    }

    /// <summary>len(sequence) * n, saturated (a product past long.MaxValue is as refused as any other).</summary>
    private static long RepeatedLength(long length, long n) =>
        n <= 0 || length == 0 ? 0 : n > long.MaxValue / length ? long.MaxValue : length * n;

    private static string Repeat(string s, long n, RenderBudget budget)
    {
        long length = RepeatedLength(s.Length, n);
        budget.BuildString(length, "'*'");
        if (length == 0) return "";
        var sb = new StringBuilder((int)length);
        for (long i = 0; i < n; i++) sb.Append(s);
        return sb.ToString();
    }

    private static object RepeatList(IReadOnlyList<object?> l, long n, RenderBudget budget)
    {
        long count = RepeatedLength(l.Count, n);
        budget.BuildList(count, "'*'");
        var items = new List<object?>((int)count);
        for (long i = 0; i < n && count > 0; i++) items.AddRange(l);
        return l is PyTuple ? new PyTuple(items) : items;
    }

    public static object? Negate(object? v) => v switch
    {
        Undefined u => throw u.Error(),
        bool b => (object)(b ? -1L : 0L),
        long.MinValue => throw TemplateException.Unsupported($"integer arithmetic beyond 64 bits (-({long.MinValue}))"),
        long l => (object)(-l),
        double d => (object)-d,
        _ => throw TemplateException.Runtime($"bad operand type for unary -: '{TypeName(v)}'"),
    };

    public static bool Contains(object? container, object? item, RenderBudget budget)
    {
        switch (container)
        {
            case string s:
                if (item is not string sub) throw TemplateException.Runtime($"'in <string>' requires string as left operand, not {TypeName(item)}");
                budget.ChargeSearch(s.Length, sub.Length);
                return s.Contains(sub, StringComparison.Ordinal);
            case PyDict d: return d.ContainsKey(item);
            case IReadOnlyList<object?> list:
                foreach (var x in list)
                {
                    budget.Step();
                    if (ElementEqual(x, item, budget, 0)) return true;
                }
                return false;
            case Undefined: return false;
            default: throw TemplateException.Runtime($"argument of type '{TypeName(container)}' is not iterable");
        }
    }

    public static IEnumerable<object?> Iterate(object? v) => v switch
    {
        IReadOnlyList<object?> list => list,
        string s => PyString.EnumerateCodePoints(s),
        PyDict d => d.Keys.Select(PyDict.KeyValue),
        Undefined => Array.Empty<object?>(),
        _ => throw TemplateException.Runtime($"'{TypeName(v)}' object is not iterable"),
    };

    /// <summary>The items of an iterable as a new list. A string becomes a list of its code points, counted
    /// against MaxListLength before the list is built.</summary>
    public static List<object?> ToList(object? v, RenderBudget budget)
    {
        if (v is string s) budget.BuildList(PyString.Length(s), "iterating over a string");
        var list = Iterate(v).ToList();
        budget.Charge(list.Count / TemplateLimits.CharactersPerStep);
        return list;
    }

    public static long Length(object? v) => v switch
    {
        string s => PyString.Length(s),
        IReadOnlyList<object?> list => list.Count,
        PyDict d => d.Count,
        Undefined => 0,
        _ => throw TemplateException.Runtime($"object of type '{TypeName(v)}' has no len()"),
    };

    /// <summary>The indices a Python slice [start:stop:step] selects from a sequence of
    /// <paramref name="count"/> items (slice.indices, then range).</summary>
    public static IEnumerable<int> SliceIndices(int count, long? start, long? stop, long? step)
    {
        long st = step ?? 1;
        if (st == 0) throw TemplateException.Runtime("slice step cannot be zero");
        long lo, hi;
        if (st > 0)
        {
            lo = Clamp(start ?? 0, count, 0, count);
            hi = Clamp(stop ?? count, count, 0, count);
            for (long i = lo; i < hi; i += st) yield return (int)i;
        }
        else
        {
            lo = Clamp(start ?? count - 1, count, -1, count - 1);
            hi = stop == null ? -1 : Clamp(stop.Value, count, -1, count - 1);
            for (long i = lo; i > hi; i += st) yield return (int)i;
        }
    }

    private static long Clamp(long index, int count, long min, long max)
    {
        if (index < 0) index += count;
        return Math.Clamp(index, min, max);
    }
}
