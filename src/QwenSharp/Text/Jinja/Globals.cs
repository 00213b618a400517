using System.Globalization;
using System.Text;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// The functions every template sees: Jinja2's default globals (range, dict, namespace; lipsum, cycler and
/// joiner refused as unsupported) and the two Hugging Face adds in apply_chat_template:
/// <c>raise_exception(message)</c> and <c>strftime_now(format)</c>.
/// </summary>
internal static class Globals
{
    public static Dictionary<string, object?> Create(Func<DateTime> now)
    {
        var g = new Dictionary<string, object?>(StringComparer.Ordinal);
        void Add(string name, Func<CallArguments, object?> body) => g[name] = new JinjaFunction(name, body);
        Add("range", Range);
        Add("namespace", args =>
        {
            var ns = new Namespace();
            foreach (var p in args.Positional)
            {
                if (p is not PyDict d) throw TemplateException.Runtime("namespace() takes keyword arguments or a dict");
                foreach (var kv in d.Items) ns.Attributes[PyFormat.Str(PyDict.KeyValue(kv.Key))] = kv.Value;
            }
            foreach (var kv in args.Keyword) ns.Attributes[kv.Key] = kv.Value;
            return ns;
        });
        Add("dict", args =>
        {
            var d = new PyDict();
            foreach (var p in args.Positional)
            {
                if (p is not PyDict src) throw TemplateException.Unsupported("dict() from something other than a dict");
                foreach (var kv in src.Items) d[PyDict.KeyValue(kv.Key)] = kv.Value;
            }
            foreach (var kv in args.Keyword) d[kv.Key] = kv.Value;
            return d;
        });
        Add("raise_exception", args =>
            throw new TemplateException(TemplateErrorKind.Raised, PyFormat.Str(args.Get(0, "message", ""))));
        Add("strftime_now", args =>
        {
            args.Check("strftime_now", "format");
            return StrFTime(now(), args.Get(0, "format") as string ?? throw TemplateException.Runtime("strftime_now expects a format string"));
        });
        foreach (var name in new[] { "lipsum", "cycler", "joiner" })
            Add(name, _ => throw TemplateException.Unsupported($"the global function '{name}'"));
        return g;
    }

    private static object? Range(CallArguments args)
    {
        if (args.Keyword.Count > 0 || args.Positional.Count is 0 or > 3) throw TemplateException.Runtime("range expects 1 to 3 integer arguments");
        var n = args.Positional.Select(p => PyOperators.AsInt(p) ?? throw TemplateException.Runtime($"range() needs integers, got {PyOperators.TypeName(p)}")).ToArray();
        long start = n.Length > 1 ? n[0] : 0, stop = n.Length > 1 ? n[1] : n[0], step = n.Length > 2 ? n[2] : 1;
        if (step == 0) throw TemplateException.Runtime("range() arg 3 must not be zero");
        var list = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            // The sandbox caps ranges at 100,000 items (jinja2.sandbox.MAX_RANGE).
            if (list.Count >= 100_000) throw TemplateException.Runtime("range too big: the sandbox allows at most 100000 items");
            list.Add(i);
        }
        return list;
    }

    /// <summary>Python's datetime.strftime for the directives templates use (Llama 3's "%d %b %Y"),
    /// in the C locale.</summary>
    private static string StrFTime(DateTime t, string format)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }
            char d = format[++i];
            sb.Append(d switch
            {
                'd' => t.ToString("dd", c),
                'm' => t.ToString("MM", c),
                'Y' => t.ToString("yyyy", c),
                'y' => t.ToString("yy", c),
                'H' => t.ToString("HH", c),
                'I' => t.ToString("hh", c),
                'M' => t.ToString("mm", c),
                'S' => t.ToString("ss", c),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'b' => t.ToString("MMM", c),
                'B' => t.ToString("MMMM", c),
                'a' => t.ToString("ddd", c),
                'A' => t.ToString("dddd", c),
                'j' => t.DayOfYear.ToString("000", c),
                'f' => (t.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", c),
                'w' => ((int)t.DayOfWeek).ToString(c),
                '%' => "%",
                _ => throw TemplateException.Unsupported($"the strftime directive '%{d}'"),
            });
        }
        return sb.ToString();
    }
}
