using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// Jinja2's built-in filters (jinja2/filters.py) that chat templates use, with Hugging Face's
/// <c>tojson</c> in place of Jinja2's. Filter names Jinja2 knows but this interpreter does not run fail
/// with the filter named; names Jinja2 does not know fail at parse time, as Jinja2 fails to compile.
/// </summary>
internal static partial class Filters
{
    private static readonly HashSet<string> JinjaBuiltins =
    [
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape",
        "filesizeformat", "first", "float", "forceescape", "format", "groupby", "indent", "int", "items", "join",
        "last", "length", "list", "lower", "map", "max", "min", "pprint", "random", "reject", "rejectattr", "replace",
        "reverse", "round", "safe", "select", "selectattr", "slice", "sort", "string", "striptags", "sum", "title",
        "tojson", "trim", "truncate", "unique", "upper", "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr",
    ];

    public static bool IsJinjaFilter(string name) => JinjaBuiltins.Contains(name);

    /// <summary>Applies a filter, charging the budget for reading its input and for what it builds; filters
    /// whose output can be much larger than their input (join, replace, indent, center, tojson, repetition)
    /// check the size before building it.</summary>
    public static object? Apply(string name, object? value, CallArguments a, RenderBudget budget)
    {
        // Reading a string is linear in its length (and a list may hold one long string many times).
        budget.Charge(1 + (value is string text ? text.Length / TemplateLimits.CharactersPerStep : 0));
        var result = ApplyCore(name, value, a, budget);
        if (!ReferenceEquals(result, value)) Built(result, $"the filter '{name}'", budget);
        return result;
    }

    /// <summary>Charges a result that an operation built (its size was already bounded by its input or a
    /// check before building), and refuses one past the limits.</summary>
    internal static void Built(object? result, string what, RenderBudget budget)
    {
        if (result is string s) budget.BuildString(s.Length, what);
        else if (result is IReadOnlyList<object?> list) budget.BuildList(list.Count, what);
    }

    private static object? ApplyCore(string name, object? value, CallArguments a, RenderBudget budget)
    {
        string Str(object? v) => PyFormat.Str(v, budget);
        switch (name)
        {
            case "default" or "d":
                a.Check(name, "default_value", "boolean");
                return value is Undefined || (PyOperators.IsTrue(a.Get(1, "boolean", false)) && !PyOperators.IsTrue(value))
                    ? a.Get(0, "default_value", "") : value;
            case "length" or "count":
                a.Check(name);
                return PyOperators.Length(value);
            case "string": a.Check(name); return Str(value);
            case "lower": a.Check(name); return Str(value).ToLowerInvariant();
            case "upper": a.Check(name); return Str(value).ToUpperInvariant();
            case "title": a.Check(name); return TitleWords(Str(value));
            case "capitalize": a.Check(name); return PyString.Capitalize(Str(value));
            case "trim":
                a.Check(name, "chars");
                return PyString.Strip(Str(value), a.Get(0, "chars") as string);
            case "safe": a.Check(name); return value;
            case "e" or "escape" or "forceescape":
                a.Check(name);
                return Escape(Str(value));
            case "replace":
                a.Check(name, "old", "new", "count");
                return PyMethods.Call(new BoundMethod(Str(value), "replace"),
                    new CallArguments([a.Get(0, "old"), a.Get(1, "new"), a.Get(2, "count", -1L) ?? -1L], new Dictionary<string, object?>()), budget);
            case "tojson":
                return ToJson(value, a, budget);
            case "join":
                a.Check(name, "d", "attribute");
                return JoinFilter(value, Str(a.Get(0, "d", "")), a.Get(1, "attribute"), budget);
            case "first":
                a.Check(name);
                foreach (var x in PyOperators.Iterate(value)) return x;
                return new Undefined("No first item, sequence was empty.");
            case "last":
            {
                a.Check(name);
                var items = value is PyDict ? throw TemplateException.Runtime("'dict' object is not reversible") : PyOperators.ToList(value, budget);
                return items.Count > 0 ? items[^1] : new Undefined("No last item, sequence was empty.");
            }
            case "list": a.Check(name); return PyOperators.ToList(value, budget);
            case "reverse":
            {
                a.Check(name);
                var items = PyOperators.ToList(value, budget);
                items.Reverse();
                return value is string ? string.Concat(items) : items;
            }
            case "items":
                a.Check(name);
                if (value is Undefined) return new List<object?>();
                if (value is not PyDict mapping) throw TemplateException.Runtime("Can only get item pairs from a mapping.");
                return ((IReadOnlyList<object?>)PyMethods.Call(new BoundMethod(mapping, "items"), CallArguments.None, budget)!).ToList();
            case "dictsort" or "sort" or "unique" or "min" or "max":
                return Ordered(name, value, a, budget);
            case "sum":
            {
                a.Check(name, "attribute", "start");
                object? total = a.Get(1, "start", 0L);
                var attribute = a.Get(0, "attribute");
                foreach (var x in PyOperators.Iterate(value))
                {
                    budget.Step();
                    total = PyOperators.Arithmetic("+", total, attribute == null ? x : Attribute(x, attribute, budget), budget);
                }
                return total;
            }
            case "abs":
                a.Check(name);
                return value switch
                {
                    long.MinValue => throw TemplateException.Unsupported($"integer arithmetic beyond 64 bits (abs({long.MinValue}))"),
                    long l => (object)Math.Abs(l),
                    double d => (object)Math.Abs(d),
                    bool b => (object)(b ? 1L : 0L),
                    _ => throw TemplateException.Runtime($"bad operand type for abs(): '{PyOperators.TypeName(value)}'"),
                };
            case "int": a.Check(name, "default", "base"); return ToInt(value, a.Get(0, "default", 0L));
            case "float": a.Check(name, "default"); return ToFloat(value, a.Get(0, "default", 0.0));
            case "round":
            {
                a.Check(name, "precision", "method");
                long precision = PyOperators.AsInt(a.Get(0, "precision", 0L)) ?? throw TemplateException.Runtime("round precision must be an int");
                string method = a.Get(1, "method", "common") as string ?? "common";
                if (value is not (long or double or bool)) throw TemplateException.Runtime($"round expects a number, not {PyOperators.TypeName(value)}");
                if (method == "common") return PyRound.Round(value is bool b ? (b ? 1L : 0L) : value!, precision);
                double x = value is double d ? d : PyOperators.AsInt(value)!.Value;
                double factor = Math.Pow(10, precision);
                return method switch
                {
                    "floor" => Math.Floor(x * factor) / factor,
                    "ceil" => Math.Ceiling(x * factor) / factor,
                    _ => throw TemplateException.Runtime("method must be common, ceil or floor"),
                };
            }
            case "map": return PyOperators.IsTrue(value) ? Map(value, a, budget) : new List<object?>();
            case "select" or "reject":
                return SelectItems(value, a.Positional.Count > 0 ? a.Positional[0] as string : null, a.Positional.Skip(1).ToList(), name == "select", null, budget);
            case "selectattr" or "rejectattr":
            {
                if (a.Positional.Count == 0) throw TemplateException.Runtime($"{name} needs an attribute name");
                return SelectItems(value, a.Positional.Count > 1 ? a.Positional[1] as string : null, a.Positional.Skip(2).ToList(), name == "selectattr", a.Positional[0], budget);
            }
            case "attr":
                a.Check(name, "name");
                return PyMethods.GetAttr(value, a.Get(0, "name") as string ?? throw TemplateException.Runtime("attr expects a name"));
            case "indent":
                // Jinja2 does `s += "\n"` on the value itself, so anything but a string fails there.
                return value switch
                {
                    string text => Indent(text, a, budget),
                    Undefined u => throw u.Error(),
                    IReadOnlyList<object?> and not PyTuple => throw TemplateException.Runtime("'list' object has no attribute 'splitlines'"),
                    _ => throw TemplateException.Runtime($"unsupported operand type(s) for +=: '{PyOperators.TypeName(value)}' and 'str'"),
                };
            case "center":
            {
                a.Check(name, "width");
                string text = Str(value);
                long width = PyOperators.AsInt(a.Get(0, "width", 80L)) ?? 80;
                long pad = Math.Max(0, width - PyString.Length(text));
                budget.BuildString(text.Length + Math.Min(pad, int.MaxValue), "the filter 'center'");
                // Python's str.center puts the odd space on the left when both the padding and the width are odd.
                int left = (int)(pad / 2 + (pad & width & 1));
                return new string(' ', left) + text + new string(' ', (int)pad - left);
            }
            case "wordcount": a.Check(name); return (long)Regex.Matches(Str(value), @"\w+").Count;
        }
        throw TemplateException.Unsupported($"the filter '{name}'");
    }

    /// <summary>Hugging Face's tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).</summary>
    private static string ToJson(object? value, CallArguments a, RenderBudget budget)
    {
        a.Check("tojson", "ensure_ascii", "indent", "separators", "sort_keys");
        string? indent = a.Get(1, "indent") switch
        {
            null => null,
            string s => s,
            long n when n > budget.Limits.MaxOutputLength => throw RenderBudget.Exceeded(
                $"tojson indent={n} is wider than the {budget.Limits.MaxOutputLength} characters a string may have", nameof(TemplateLimits.MaxOutputLength)),
            long n => new string(' ', (int)Math.Max(0, n)),
            var other => throw TemplateException.Runtime($"tojson indent must be an int or str, not {PyOperators.TypeName(other)}"),
        };
        string? itemSep = null, keySep = null;
        if (a.Get(2, "separators") is { } seps)
        {
            var parts = PyOperators.Iterate(seps).ToList();
            if (parts.Count != 2 || parts[0] is not string i || parts[1] is not string k)
                throw TemplateException.Runtime("tojson separators must be an (item_separator, key_separator) pair of strings");
            (itemSep, keySep) = (i, k);
        }
        return PyJson.Dumps(value, budget, PyOperators.IsTrue(a.Get(0, "ensure_ascii", false)), indent, itemSep, keySep, PyOperators.IsTrue(a.Get(3, "sort_keys", false)));
    }

    /// <summary>Jinja2's title filter (not str.title): each piece after whitespace, '-', '(', '{', '[' or '&lt;'
    /// gets its first character upper-cased and the rest lower-cased.</summary>
    private static string TitleWords(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool wordStart = true;
        foreach (var cp in PyString.EnumerateCodePoints(s))
        {
            bool separator = cp.Length == 1 && (PyString.IsSpace(cp[0]) || cp[0] is '-' or '(' or '{' or '[' or '<');
            if (separator) sb.Append(cp);
            else sb.Append(wordStart ? cp.ToUpperInvariant() : cp.ToLowerInvariant());
            wordStart = separator;
        }
        return sb.ToString();
    }

    private static string JoinFilter(object? value, string separator, object? attribute, RenderBudget budget)
    {
        var items = PyOperators.Iterate(value);
        if (attribute != null) items = items.Select(x => Attribute(x, attribute, budget));
        return Join(separator, items.Select(x => PyFormat.Str(x, budget)), budget, "the filter 'join'");
    }

    /// <summary>str.join with the length of the result checked as it grows (a list may hold the same long
    /// string many times); the caller charges the result.</summary>
    internal static string Join(string separator, IEnumerable<string> items, RenderBudget budget, string what)
    {
        var sb = new StringBuilder();
        bool first = true;
        foreach (var item in items)
        {
            budget.Step();
            budget.CheckString((long)sb.Length + (first ? 0 : separator.Length) + item.Length, what);
            if (!first) sb.Append(separator);
            sb.Append(item);
            first = false;
        }
        return sb.ToString();
    }

    private static string Escape(string s) =>
        s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");

    /// <summary>Jinja2's attribute lookup for filters: "a.b" walks nested attributes, an int indexes.</summary>
    internal static object? Attribute(object? item, object? attribute, RenderBudget budget)
    {
        budget.Step();
        if (attribute is string path)
        {
            foreach (var part in path.Split('.'))
                item = int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? PyMethods.GetItem(item, (long)i, budget) : PyMethods.GetItem(item, part, budget);
            return item;
        }
        return PyMethods.GetItem(item, attribute, budget);
    }

    private static List<object?> Map(object? value, CallArguments a, RenderBudget budget)
    {
        var items = PyOperators.ToList(value, budget);
        if (a.Keyword.TryGetValue("attribute", out var attribute))
        {
            a.Keyword.TryGetValue("default", out var fallback);
            return items.Select(x =>
            {
                var v = Attribute(x, attribute, budget);
                return v is Undefined && a.Keyword.ContainsKey("default") ? fallback : v;
            }).ToList();
        }
        if (a.Positional.Count == 0 || a.Positional[0] is not string filter)
            throw TemplateException.Runtime("map needs a filter name or attribute=");
        if (!IsJinjaFilter(filter)) throw TemplateException.Runtime($"no filter named '{filter}'");
        var rest = new CallArguments(a.Positional.Skip(1).ToList(), a.Keyword);
        return items.Select(x => Apply(filter, x, rest, budget)).ToList();
    }

    /// <summary>select/reject/selectattr/rejectattr; like Jinja2 they yield nothing for a falsy value
    /// (None, an undefined variable) instead of failing to iterate it.</summary>
    private static List<object?> SelectItems(object? value, string? test, List<object?> testArgs, bool keep, object? attribute, RenderBudget budget)
    {
        if (test != null && !Tests.IsJinjaTest(test)) throw TemplateException.Runtime($"no test named '{test}'");
        if (!PyOperators.IsTrue(value)) return new List<object?>();
        return PyOperators.ToList(value, budget).Where(x =>
        {
            budget.Step();
            var v = attribute == null ? x : Attribute(x, attribute, budget);
            bool ok = test == null ? PyOperators.IsTrue(v) : Tests.Apply(test, v, testArgs, budget);
            return ok == keep;
        }).ToList();
    }

    private static string Indent(string s, CallArguments a, RenderBudget budget)
    {
        a.Check("indent", "width", "first", "blank");
        var width = a.Get(0, "width", 4L);
        long widthChars = Math.Min(width is string w ? w.Length : PyOperators.AsInt(width) ?? 4, int.MaxValue);
        bool first = PyOperators.IsTrue(a.Get(1, "first", false)), blank = PyOperators.IsTrue(a.Get(2, "blank", false));
        // Jinja2 appends "\n" before splitlines() so a trailing newline survives.
        var lines = PyString.SplitLines(s + "\n", budget);
        // The indentation is repeated on every (non-blank) line after the first: refuse before building it.
        long indented = (blank ? lines.Count - 1 : lines.Skip(1).Count(l => l.Length > 0)) + (first ? 1 : 0);
        budget.BuildString(s.Length + 1 + indented * Math.Max(0, widthChars), "the filter 'indent'");
        string indention = width as string ?? new string(' ', (int)Math.Max(0, widthChars));
        string rv;
        if (blank) rv = string.Join("\n" + indention, lines);
        else
        {
            var sb = new StringBuilder(lines[0]);
            for (int i = 1; i < lines.Count; i++) sb.Append('\n').Append(lines[i].Length > 0 ? indention + lines[i] : lines[i]);
            rv = sb.ToString();
        }
        return first ? indention + rv : rv;
    }

    /// <summary>A whole double as a Python int: a long when it fits, else a BigInteger (1e20|int is
    /// 100000000000000000000, not a clamped value).</summary>
    private static object WholeNumber(double d) =>
        d >= -9.2233720368547758E18 && d < 9.2233720368547758E18 ? (long)d : new BigInteger(d);

    private static object? ToInt(object? value, object? fallback)
    {
        switch (value)
        {
            case Undefined u: throw u.Error();
            case long or bool: return PyOperators.AsInt(value);
            case double d: return double.IsFinite(d) ? WholeNumber(Math.Truncate(d)) : fallback;
            case string s:
                string t = PyString.Strip(s).Replace("_", "");
                if (long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
                if (t.Length > JsonValues.MaxIntegerDigits + 1)
                    throw TemplateException.Runtime($"Exceeds the limit ({JsonValues.MaxIntegerDigits} digits) for integer string conversion");
                if (BigInteger.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var big)) return big;
                if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && double.IsFinite(f)) return WholeNumber(Math.Truncate(f));
                return fallback;
            default: return fallback;
        }
    }

    private static object? ToFloat(object? value, object? fallback) => value switch
    {
        Undefined u => throw u.Error(),
        long l => (double)l,
        bool b => b ? 1.0 : 0.0,
        double d => d,
        string s when double.TryParse(PyString.Strip(s), NumberStyles.Float, CultureInfo.InvariantCulture, out double f) => f,
        _ => fallback,
    };
}
