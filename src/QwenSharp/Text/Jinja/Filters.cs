using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// Jinja2's built-in filters (jinja2/filters.py) that chat templates use, with Hugging Face's
/// <c>tojson</c> in place of Jinja2's. Filter names Jinja2 knows but this interpreter does not run fail
/// with the filter named; names Jinja2 does not know fail at parse time, as Jinja2 fails to compile.
/// </summary>
internal static class Filters
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

    public static object? Apply(string name, object? value, CallArguments a)
    {
        switch (name)
        {
            case "default" or "d":
                a.Check(name, "default_value", "boolean");
                return value is Undefined || (PyOperators.IsTrue(a.Get(1, "boolean", false)) && !PyOperators.IsTrue(value))
                    ? a.Get(0, "default_value", "") : value;
            case "length" or "count":
                a.Check(name);
                return PyOperators.Length(value);
            case "string": a.Check(name); return PyFormat.Str(value);
            case "lower": a.Check(name); return PyFormat.Str(value).ToLowerInvariant();
            case "upper": a.Check(name); return PyFormat.Str(value).ToUpperInvariant();
            case "title": a.Check(name); return PyString.Title(PyFormat.Str(value));
            case "capitalize": a.Check(name); return PyString.Capitalize(PyFormat.Str(value));
            case "trim":
                a.Check(name, "chars");
                return PyString.Strip(PyFormat.Str(value), a.Get(0, "chars") as string);
            case "safe": a.Check(name); return value;
            case "e" or "escape" or "forceescape":
                a.Check(name);
                return Escape(PyFormat.Str(value));
            case "replace":
                a.Check(name, "old", "new", "count");
                return PyMethods.Call(new BoundMethod(PyFormat.Str(value), "replace"),
                    new CallArguments([a.Get(0, "old"), a.Get(1, "new"), a.Get(2, "count", -1L) ?? -1L], new Dictionary<string, object?>()));
            case "tojson":
                return ToJson(value, a);
            case "join":
            {
                a.Check(name, "d", "attribute");
                var items = PyOperators.Iterate(value);
                if (a.Get(1, "attribute") is { } attribute) items = items.Select(x => Attribute(x, attribute));
                return string.Join(PyFormat.Str(a.Get(0, "d", "")), items.Select(PyFormat.Str));
            }
            case "first":
                a.Check(name);
                foreach (var x in PyOperators.Iterate(value)) return x;
                return new Undefined("No first item, sequence was empty.");
            case "last":
            {
                a.Check(name);
                var items = value is PyDict ? throw TemplateException.Runtime("'dict' object is not reversible") : PyOperators.Iterate(value).ToList();
                return items.Count > 0 ? items[^1] : new Undefined("No last item, sequence was empty.");
            }
            case "list": a.Check(name); return PyOperators.Iterate(value).ToList();
            case "reverse":
                a.Check(name);
                if (value is string s) return string.Concat(PyString.CodePoints(s).AsEnumerable().Reverse());
                return PyOperators.Iterate(value).Reverse().ToList();
            case "items":
                a.Check(name);
                if (value is Undefined) return new List<object?>();
                if (value is not PyDict mapping) throw TemplateException.Runtime("Can only get item pairs from a mapping.");
                return PyMethods.Call(new BoundMethod(mapping, "items"), CallArguments.None);
            case "dictsort":
            {
                a.Check(name, "case_sensitive", "by", "reverse");
                if (value is not PyDict dict) throw TemplateException.Runtime("dictsort expects a mapping");
                bool byValue = (a.Get(1, "by", "key") as string) switch
                {
                    "key" => false,
                    "value" => true,
                    _ => throw TemplateException.Runtime("You can only sort by either 'key' or 'value'"),
                };
                var pairs = ((List<object?>)PyMethods.Call(new BoundMethod(dict, "items"), CallArguments.None)!).Cast<PyTuple>().ToList();
                bool caseSensitive = PyOperators.IsTrue(a.Get(0, "case_sensitive", false));
                var sorted = SortBy(pairs.Cast<object?>().ToList(), p => SortKey(((PyTuple)p!)[byValue ? 1 : 0], caseSensitive), PyOperators.IsTrue(a.Get(2, "reverse", false)));
                return sorted;
            }
            case "sort":
            {
                a.Check(name, "reverse", "case_sensitive", "attribute");
                bool caseSensitive = PyOperators.IsTrue(a.Get(1, "case_sensitive", false));
                var attribute = a.Get(2, "attribute");
                return SortBy(PyOperators.Iterate(value).ToList(),
                    x => SortKey(attribute == null ? x : Attribute(x, attribute), caseSensitive), PyOperators.IsTrue(a.Get(0, "reverse", false)));
            }
            case "unique":
            {
                a.Check(name, "case_sensitive", "attribute");
                bool caseSensitive = PyOperators.IsTrue(a.Get(0, "case_sensitive", false));
                var attribute = a.Get(1, "attribute");
                var seen = new List<object?>();
                var result = new List<object?>();
                foreach (var x in PyOperators.Iterate(value))
                {
                    var key = SortKey(attribute == null ? x : Attribute(x, attribute), caseSensitive);
                    if (seen.Any(k => PyOperators.AreEqual(k, key))) continue;
                    seen.Add(key);
                    result.Add(x);
                }
                return result;
            }
            case "min" or "max":
            {
                a.Check(name, "case_sensitive", "attribute");
                bool caseSensitive = PyOperators.IsTrue(a.Get(0, "case_sensitive", false));
                var attribute = a.Get(1, "attribute");
                var items = SortBy(PyOperators.Iterate(value).ToList(), x => SortKey(attribute == null ? x : Attribute(x, attribute), caseSensitive), false);
                if (items.Count == 0) return new Undefined($"No aggregated item, sequence was empty.");
                return name == "min" ? items[0] : items[^1];
            }
            case "sum":
            {
                a.Check(name, "attribute", "start");
                object? total = a.Get(1, "start", 0L);
                var attribute = a.Get(0, "attribute");
                foreach (var x in PyOperators.Iterate(value)) total = PyOperators.Arithmetic("+", total, attribute == null ? x : Attribute(x, attribute));
                return total;
            }
            case "abs":
                a.Check(name);
                return value switch
                {
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
            case "map": return Map(value, a);
            case "select" or "reject":
                return SelectItems(value, a.Positional.Count > 0 ? a.Positional[0] as string : null, a.Positional.Skip(1).ToList(), name == "select", null);
            case "selectattr" or "rejectattr":
            {
                if (a.Positional.Count == 0) throw TemplateException.Runtime($"{name} needs an attribute name");
                return SelectItems(value, a.Positional.Count > 1 ? a.Positional[1] as string : null, a.Positional.Skip(2).ToList(), name == "selectattr", a.Positional[0]);
            }
            case "attr":
                a.Check(name, "name");
                return PyMethods.GetAttr(value, a.Get(0, "name") as string ?? throw TemplateException.Runtime("attr expects a name"));
            case "indent": return Indent(PyFormat.Str(value), a);
            case "center":
            {
                a.Check(name, "width");
                string text = PyFormat.Str(value);
                long width = PyOperators.AsInt(a.Get(0, "width", 80L)) ?? 80;
                int pad = (int)Math.Max(0, width - PyString.Length(text));
                int left = pad / 2 + (pad & (int)width & 1);
                return new string(' ', left) + text + new string(' ', pad - left);
            }
            case "wordcount": a.Check(name); return (long)Regex.Matches(PyFormat.Str(value), @"\w+").Count;
        }
        throw TemplateException.Unsupported($"the filter '{name}'");
    }

    /// <summary>Hugging Face's tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).</summary>
    private static string ToJson(object? value, CallArguments a)
    {
        a.Check("tojson", "ensure_ascii", "indent", "separators", "sort_keys");
        string? indent = a.Get(1, "indent") switch
        {
            null => null,
            string s => s,
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
        return PyJson.Dumps(value, PyOperators.IsTrue(a.Get(0, "ensure_ascii", false)), indent, itemSep, keySep, PyOperators.IsTrue(a.Get(3, "sort_keys", false)));
    }

    private static string Escape(string s) =>
        s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");

    /// <summary>Jinja2's attribute lookup for filters: "a.b" walks nested attributes, an int indexes.</summary>
    private static object? Attribute(object? item, object? attribute)
    {
        if (attribute is string path)
        {
            foreach (var part in path.Split('.'))
                item = int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? PyMethods.GetItem(item, (long)i) : PyMethods.GetItem(item, part);
            return item;
        }
        return PyMethods.GetItem(item, attribute);
    }

    private static object? SortKey(object? v, bool caseSensitive) => !caseSensitive && v is string s ? s.ToLowerInvariant() : v;

    private static List<object?> SortBy(List<object?> items, Func<object?, object?> key, bool reverse)
    {
        var keyed = items.Select((x, i) => (Item: x, Key: key(x), Index: i)).ToList();
        keyed.Sort((p, q) =>
        {
            int c = PyOperators.Compare(p.Key, q.Key, "<");
            return c != 0 ? (reverse ? -c : c) : p.Index.CompareTo(q.Index);
        });
        return keyed.Select(k => k.Item).ToList();
    }

    private static List<object?> Map(object? value, CallArguments a)
    {
        var items = PyOperators.Iterate(value).ToList();
        if (a.Keyword.TryGetValue("attribute", out var attribute))
        {
            a.Keyword.TryGetValue("default", out var fallback);
            return items.Select(x =>
            {
                var v = Attribute(x, attribute);
                return v is Undefined && a.Keyword.ContainsKey("default") ? fallback : v;
            }).ToList();
        }
        if (a.Positional.Count == 0 || a.Positional[0] is not string filter)
            throw TemplateException.Runtime("map needs a filter name or attribute=");
        if (!IsJinjaFilter(filter)) throw TemplateException.Runtime($"no filter named '{filter}'");
        var rest = new CallArguments(a.Positional.Skip(1).ToList(), a.Keyword);
        return items.Select(x => Apply(filter, x, rest)).ToList();
    }

    private static List<object?> SelectItems(object? value, string? test, List<object?> testArgs, bool keep, object? attribute)
    {
        if (test != null && !Tests.IsJinjaTest(test)) throw TemplateException.Runtime($"no test named '{test}'");
        return PyOperators.Iterate(value).Where(x =>
        {
            var v = attribute == null ? x : Attribute(x, attribute);
            bool ok = test == null ? PyOperators.IsTrue(v) : Tests.Apply(test, v, testArgs);
            return ok == keep;
        }).ToList();
    }

    private static string Indent(string s, CallArguments a)
    {
        a.Check("indent", "width", "first", "blank");
        string indention = a.Get(0, "width", 4L) is string w ? w : new string(' ', (int)(PyOperators.AsInt(a.Get(0, "width", 4L)) ?? 4));
        bool first = PyOperators.IsTrue(a.Get(1, "first", false)), blank = PyOperators.IsTrue(a.Get(2, "blank", false));
        // Jinja2 appends "\n" before splitlines() so a trailing newline survives.
        var lines = PyString.SplitLines(s + "\n");
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

    private static object? ToInt(object? value, object? fallback)
    {
        switch (value)
        {
            case long or bool: return PyOperators.AsInt(value);
            case double d: return double.IsFinite(d) ? (long)Math.Truncate(d) : fallback;
            case string s:
                string t = PyString.Strip(s).Replace("_", "");
                if (long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
                if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && double.IsFinite(f)) return (long)Math.Truncate(f);
                return fallback;
            default: return fallback;
        }
    }

    private static object? ToFloat(object? value, object? fallback) => value switch
    {
        long l => (double)l,
        bool b => b ? 1.0 : 0.0,
        double d => d,
        string s when double.TryParse(PyString.Strip(s), NumberStyles.Float, CultureInfo.InvariantCulture, out double f) => f,
        _ => fallback,
    };
}
