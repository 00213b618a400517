using System.Text;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// Attribute and item access with Jinja2's two lookups (<c>a.b</c> tries the attribute, then the item;
/// <c>a['b']</c> the item, then the attribute), and the methods of str, dict and list that templates call
/// (<c>content.startswith('&lt;tool_response&gt;')</c>, <c>message.get('x')</c>). Mutating list and dict
/// methods are refused as Hugging Face's ImmutableSandboxedEnvironment refuses them. Methods charge the
/// render's budget for the text they read and check the size of what they build.
/// </summary>
internal static class PyMethods
{
    private static readonly HashSet<string> StrMethods =
    [
        "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format", "format_map",
        "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric",
        "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans", "partition",
        "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split",
        "splitlines", "startswith", "strip", "swapcase", "title", "translate", "upper", "zfill",
    ];

    private static readonly HashSet<string> DictMethods = ["get", "items", "keys", "values", "copy", "fromkeys"];
    private static readonly HashSet<string> DictMutators = ["clear", "pop", "popitem", "setdefault", "update"];
    private static readonly HashSet<string> ListMethods = ["index", "count", "copy"];
    private static readonly HashSet<string> ListMutators = ["append", "clear", "pop", "reverse", "insert", "sort", "extend", "remove"];

    private static string ObjectName(object? obj) => obj == null ? "None" : $"{PyOperators.TypeName(obj)} object";

    public static object? GetAttr(object? obj, string name)
    {
        switch (obj)
        {
            case Undefined u: throw u.Error();
            case string s when StrMethods.Contains(name): return new BoundMethod(s, name);
            case PyDict d:
                if (DictMethods.Contains(name)) return new BoundMethod(d, name);
                if (DictMutators.Contains(name)) return Unsafe(obj, name);
                return d.TryGet(name, out var v) ? v : NoAttribute(obj, name);
            case IReadOnlyList<object?> list when obj is not PyTuple && ListMutators.Contains(name): return Unsafe(list, name);
            case IReadOnlyList<object?> list when ListMethods.Contains(name) || (obj is PyTuple && name is "index" or "count"):
                return new BoundMethod(list, name);
            case Namespace ns: return ns.Attributes.TryGetValue(name, out var a) ? a : NoAttribute(obj, name);
            case LoopContext loop: return loop.Get(name);
            default: return NoAttribute(obj, name);
        }
    }

    private static Undefined NoAttribute(object? obj, string name) => new($"'{ObjectName(obj)}' has no attribute '{name}'");

    private static Undefined Unsafe(object obj, string name) =>
        new($"access to attribute '{name}' of '{PyOperators.TypeName(obj)}' object is unsafe (templates cannot change their inputs)");

    public static object? GetItem(object? obj, object? key, RenderBudget budget)
    {
        switch (obj)
        {
            case Undefined u: throw u.Error();
            case PyDict d:
                if (d.TryGet(key, out var v)) return v;
                break;
            case IReadOnlyList<object?> list when PyOperators.AsInt(key) is long i:
                if (i < 0) i += list.Count;
                if (i >= 0 && i < list.Count) return list[(int)i];
                return new Undefined($"{ObjectName(obj)} has no element {PyFormat.Brief(key)}");
            case string s when PyOperators.AsInt(key) is long i:
                // Finding a code point may scan the string up to it.
                budget.Charge(1 + s.Length / TemplateLimits.CharactersPerStep);
                return PyString.At(s, i) ?? (object)new Undefined($"{ObjectName(obj)} has no element {PyFormat.Brief(key)}");
        }
        if (key is string name) return GetAttr(obj, name);
        return new Undefined($"{ObjectName(obj)} has no element {PyFormat.Brief(key)}");
    }

    /// <summary>obj[start:stop:step]; the result is no larger than obj, and is charged.</summary>
    public static object? Slice(object? obj, long? start, long? stop, long? step, RenderBudget budget)
    {
        object? result = obj switch
        {
            Undefined u => throw u.Error(),
            string s => PyString.Slice(s, start, stop, step),
            PyTuple t => new PyTuple(PyOperators.SliceIndices(t.Count, start, stop, step).Select(i => t[i]).ToArray()),
            IReadOnlyList<object?> list => PyOperators.SliceIndices(list.Count, start, stop, step).Select(i => list[i]).ToList(),
            _ => new Undefined($"'{ObjectName(obj)}' cannot be sliced"),
        };
        if (obj is string text) budget.Charge(text.Length / TemplateLimits.CharactersPerStep);
        Filters.Built(result, "a slice", budget);
        return result;
    }

    public static object? Call(BoundMethod m, CallArguments args, RenderBudget budget)
    {
        // Every str method reads the string (startswith/endswith less, but the charge stays simple).
        budget.Charge(1 + (m.Target is string text ? text.Length / TemplateLimits.CharactersPerStep : 0));
        var result = m.Target switch
        {
            string s => CallStr(s, m.Name, args, budget),
            PyDict d => CallDict(d, m.Name, args, budget),
            IReadOnlyList<object?> l => CallList(l, m.Name, args, budget),
            _ => throw TemplateException.Unsupported($"method '{m.Name}'"),
        };
        // dict methods hand out values the caller passed in (get) or charge their views themselves.
        if (m.Target is not PyDict && !ReferenceEquals(result, m.Target)) Filters.Built(result, $"the method '{m.Name}'", budget);
        return result;
    }

    private static string Str(object? v, string what) =>
        v as string ?? throw TemplateException.Runtime($"{what} must be a str, not {PyOperators.TypeName(v)}");

    private static string? OptStr(object? v, string what) => v == null ? null : Str(v, what);

    private static long Int(object? v, string what) =>
        PyOperators.AsInt(v) ?? throw TemplateException.Runtime($"{what} must be an int, not {PyOperators.TypeName(v)}");

    private static object? CallStr(string s, string name, CallArguments a, RenderBudget budget)
    {
        switch (name)
        {
            case "startswith" or "endswith":
            {
                a.Check($"str.{name}", "prefix", "start", "end");
                if (a.Has(1, "start") || a.Has(2, "end")) throw TemplateException.Unsupported($"str.{name} with start/end");
                var arg = a.Get(0, "prefix");
                // Python accepts one string or a tuple of alternatives.
                var options = arg is PyTuple t ? t.Select(x => Str(x, $"str.{name} argument")).ToList() : [Str(arg, $"str.{name} argument")];
                return options.Any(o => name == "startswith" ? s.StartsWith(o, StringComparison.Ordinal) : s.EndsWith(o, StringComparison.Ordinal));
            }
            case "split" or "rsplit":
                a.Check($"str.{name}", "sep", "maxsplit");
                budget.ChargeSearch(s.Length, (a.Get(0, "sep") as string)?.Length ?? 1);
                return name == "split"
                    ? PyString.Split(s, OptStr(a.Get(0, "sep"), "separator"), Int(a.Get(1, "maxsplit", -1L), "maxsplit"), budget)
                    : PyString.RSplit(s, OptStr(a.Get(0, "sep"), "separator"), Int(a.Get(1, "maxsplit", -1L), "maxsplit"), budget);
            case "strip" or "lstrip" or "rstrip":
            {
                a.Check($"str.{name}", "chars");
                string? chars = OptStr(a.Get(0, "chars"), "chars");
                return name == "strip" ? PyString.Strip(s, chars) : name == "lstrip" ? PyString.LStrip(s, chars) : PyString.RStrip(s, chars);
            }
            case "lower": a.Check("str.lower"); return s.ToLowerInvariant();
            case "upper": a.Check("str.upper"); return s.ToUpperInvariant();
            case "title": a.Check("str.title"); return PyString.Title(s);
            case "capitalize": a.Check("str.capitalize"); return PyString.Capitalize(s);
            case "replace":
                a.Check("str.replace", "old", "new", "count");
                return Replace(s, Str(a.Get(0, "old"), "old"), Str(a.Get(1, "new"), "new"), Int(a.Get(2, "count", -1L), "count"), budget);
            case "find" or "rfind" or "index" or "rindex" or "count":
            {
                a.Check($"str.{name}", "sub");
                string sub = Str(a.Get(0, "sub"), "substring");
                budget.ChargeSearch(s.Length, sub.Length);
                if (name == "count") return CountOccurrences(s, sub);
                int at = name is "find" or "index" ? s.IndexOf(sub, StringComparison.Ordinal) : s.LastIndexOf(sub, StringComparison.Ordinal);
                if (at >= 0 && at < s.Length) at = PyString.Length(s[..at]);
                if (at < 0 && name is "index" or "rindex") throw TemplateException.Runtime("substring not found");
                return (long)at;
            }
            case "join":
                a.Check("str.join", "iterable");
                return Filters.Join(s, PyOperators.Iterate(a.Get(0, "iterable")).Select(x => Str(x, "str.join item")), budget, "str.join");
            case "splitlines":
                a.Check("str.splitlines");
                return PyString.SplitLines(s, budget).Cast<object?>().ToList();
            case "removeprefix": a.Check(name, "prefix"); return s.StartsWith(Str(a.Get(0, "prefix"), "prefix"), StringComparison.Ordinal) ? s[Str(a.Get(0, "prefix"), "prefix").Length..] : s;
            case "removesuffix": a.Check(name, "suffix"); return s.EndsWith(Str(a.Get(0, "suffix"), "suffix"), StringComparison.Ordinal) ? s[..^Str(a.Get(0, "suffix"), "suffix").Length] : s;
            case "isspace": return s.Length > 0 && PyString.IsAllSpace(s);
            case "isdigit": return s.Length > 0 && PyString.All(s, char.IsDigit);
            case "isalpha": return s.Length > 0 && PyString.All(s, char.IsLetter);
            case "isalnum": return s.Length > 0 && PyString.All(s, char.IsLetterOrDigit);
            case "islower": return PyString.Any(s, char.IsLetter) && !PyString.Any(s, char.IsUpper);
            case "isupper": return PyString.Any(s, char.IsLetter) && !PyString.Any(s, char.IsLower);
        }
        throw TemplateException.Unsupported($"the str method '{name}'");
    }

    private static string Replace(string s, string old, string replacement, long count, RenderBudget budget)
    {
        budget.ChargeSearch(s.Length, old.Length);
        if (replacement.Length > old.Length)
        {
            // The result grows by the difference at each replacement: refuse before building it.
            long occurrences = old.Length == 0 ? PyString.Length(s) + 1 : CountOccurrences(s, old);
            if (count >= 0) occurrences = Math.Min(occurrences, count);
            budget.CheckString(s.Length + occurrences * (replacement.Length - old.Length), "str.replace");
        }
        if (count < 0 && old.Length > 0) return s.Replace(old, replacement, StringComparison.Ordinal);
        var sb = new StringBuilder();
        int pos = 0, done = 0;
        if (old.Length == 0)
        {
            // Python inserts the replacement before every code point and at the end.
            foreach (var cp in PyString.EnumerateCodePoints(s))
            {
                if (count < 0 || done < count) { sb.Append(replacement); done++; }
                sb.Append(cp);
            }
            if (count < 0 || done < count) sb.Append(replacement);
            return sb.ToString();
        }
        while (done < count)
        {
            int k = s.IndexOf(old, pos, StringComparison.Ordinal);
            if (k < 0) break;
            sb.Append(s, pos, k - pos).Append(replacement);
            pos = k + old.Length;
            done++;
        }
        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    private static long CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0) return PyString.Length(s) + 1;
        long n = 0;
        for (int k = s.IndexOf(sub, StringComparison.Ordinal); k >= 0; k = s.IndexOf(sub, k + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    private static object? CallDict(PyDict d, string name, CallArguments a, RenderBudget budget)
    {
        if (name is "items" or "keys" or "values" or "copy") budget.BuildList(d.Count, $"dict.{name}");
        switch (name)
        {
            case "get":
                a.Check("dict.get", "key", "default");
                return d.TryGet(a.Get(0, "key"), out var v) ? v : a.Get(1, "default");
            case "items":
                a.Check("dict.items");
                return new PyView("dict_items", d.Items.Select(kv => (object?)new PyTuple([PyDict.KeyValue(kv.Key), kv.Value])).ToList());
            case "keys":
                a.Check("dict.keys");
                return new PyView("dict_keys", d.Keys.Select(PyDict.KeyValue).ToList());
            case "values":
                a.Check("dict.values");
                return new PyView("dict_values", d.Values.ToList());
            case "copy":
            {
                a.Check("dict.copy");
                var copy = new PyDict();
                foreach (var kv in d.Items) copy[PyDict.KeyValue(kv.Key)] = kv.Value;
                return copy;
            }
        }
        throw TemplateException.Unsupported($"the dict method '{name}'");
    }

    private static object? CallList(IReadOnlyList<object?> l, string name, CallArguments a, RenderBudget budget)
    {
        switch (name)
        {
            case "index":
                a.Check("index", "value");
                for (int i = 0; i < l.Count; i++)
                {
                    budget.Step();
                    if (PyOperators.AreEqual(l[i], a.Get(0, "value"), budget)) return (long)i;
                }
                throw TemplateException.Runtime($"{PyFormat.Brief(a.Get(0, "value"))} is not in list");
            case "count":
                a.Check("count", "value");
                return (long)l.Count(x =>
                {
                    budget.Step();
                    return PyOperators.AreEqual(x, a.Get(0, "value"), budget);
                });
            case "copy":
                a.Check("copy");
                return l.ToList();
        }
        throw TemplateException.Unsupported($"the list method '{name}'");
    }
}
