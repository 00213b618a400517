using System.Numerics;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// Python's semantics for the operators a template uses, since Jinja2 evaluates with Python's: truthiness
/// (empty string, list and dict are false), == across types (1 == 1.0 == True, a list never equals a
/// tuple), ordering, + - * / // % ** (true division gives a float, // and % floor), <c>in</c>, len and
/// iteration (a dict iterates its keys, a string its code points).
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

    public static bool AreEqual(object? a, object? b)
    {
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
            case string sa: return b is string sb && sa == sb;
            case PyTuple ta: return b is PyTuple tb && SequenceEqual(ta, tb);
            case IReadOnlyList<object?> la: return b is IReadOnlyList<object?> lb and not PyTuple && SequenceEqual(la, lb);
            case PyDict da:
                if (b is not PyDict db || da.Count != db.Count) return false;
                foreach (var kv in da.Items)
                    if (!db.TryGet(PyDict.KeyValue(kv.Key), out var other) || !AreEqual(kv.Value, other)) return false;
                return true;
            default: return ReferenceEquals(a, b);
        }
    }

    private static BigInteger ToBig(object v) => v is BigInteger bi ? bi : new BigInteger(AsInt(v)!.Value);

    private static bool SequenceEqual(IReadOnlyList<object?> a, IReadOnlyList<object?> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++)
            if (!AreEqual(a[i], b[i])) return false;
        return true;
    }

    /// <summary>Python's ordering for &lt; &lt;= &gt; &gt;=: numbers, strings by code point, sequences
    /// element-wise; any other pair is a TypeError.</summary>
    public static int Compare(object? a, object? b, string op)
    {
        if (a is Undefined ua) throw ua.Error();
        if (b is Undefined ub) throw ub.Error();
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a!).CompareTo(ToDouble(b!));
            return ToBig(a!).CompareTo(ToBig(b!));
        }
        if (a is string sa && b is string sb) return PyString.Compare(sa, sb);
        if (a is IReadOnlyList<object?> la && b is IReadOnlyList<object?> lb && (a is PyTuple) == (b is PyTuple))
        {
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
                if (!AreEqual(la[i], lb[i])) return Compare(la[i], lb[i], op);
            return la.Count.CompareTo(lb.Count);
        }
        throw TemplateException.Runtime($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static object? Arithmetic(string op, object? a, object? b)
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
            if (IsNumber(a) && IsNumber(b) && a is not BigInteger && b is not BigInteger)
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
            throw TemplateException.Unsupported($"integer arithmetic beyond 64 bits ({PyFormat.Repr(a)} {op} {PyFormat.Repr(b)})");
        }
        switch (op)
        {
            case "+" when a is string sa && b is string sb: return sa + sb;
            case "+" when a is PyTuple ta && b is PyTuple tb: return new PyTuple(ta.Concat(tb).ToArray());
            case "+" when a is IReadOnlyList<object?> la && b is IReadOnlyList<object?> lb && a is not PyTuple && b is not PyTuple:
                return la.Concat(lb).ToList();
            case "*" when a is string s && ib != null: return Repeat(s, ib.Value);
            case "*" when b is string s && ia != null: return Repeat(s, ia.Value);
            case "*" when a is IReadOnlyList<object?> l && ib != null: return RepeatList(l, ib.Value);
            case "*" when b is IReadOnlyList<object?> l && ia != null: return RepeatList(l, ia.Value);
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

    private static long IntPow(long x, long y)
    {
        long result = 1;
        for (long i = 0; i < y; i++) result = checked(result * x);
        return result;
    }

    private static string Repeat(string s, long n) => n <= 0 ? "" : string.Concat(Enumerable.Repeat(s, (int)n));

    private static object RepeatList(IReadOnlyList<object?> l, long n)
    {
        var items = new List<object?>();
        for (long i = 0; i < n; i++) items.AddRange(l);
        return l is PyTuple ? new PyTuple(items) : items;
    }

    public static object? Negate(object? v) => v switch
    {
        Undefined u => throw u.Error(),
        bool b => (object)(b ? -1L : 0L),
        long l => (object)checked(-l),
        double d => (object)-d,
        _ => throw TemplateException.Runtime($"bad operand type for unary -: '{TypeName(v)}'"),
    };

    public static bool Contains(object? container, object? item)
    {
        switch (container)
        {
            case string s:
                if (item is not string sub) throw TemplateException.Runtime($"'in <string>' requires string as left operand, not {TypeName(item)}");
                return s.Contains(sub, StringComparison.Ordinal);
            case PyDict d: return d.ContainsKey(item);
            case IReadOnlyList<object?> list:
                foreach (var x in list)
                    if (AreEqual(x, item)) return true;
                return false;
            case Undefined: return false;
            default: throw TemplateException.Runtime($"argument of type '{TypeName(container)}' is not iterable");
        }
    }

    public static IEnumerable<object?> Iterate(object? v) => v switch
    {
        IReadOnlyList<object?> list => list,
        string s => PyString.CodePoints(s),
        PyDict d => d.Keys.Select(PyDict.KeyValue),
        Undefined => Array.Empty<object?>(),
        _ => throw TemplateException.Runtime($"'{TypeName(v)}' object is not iterable"),
    };

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
