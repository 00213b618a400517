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
    public static Dictionary<string, object?> Create(Func<DateTime> now, RenderBudget budget)
    {
        var g = new Dictionary<string, object?>(StringComparer.Ordinal);
        void Add(string name, Func<CallArguments, object?> body) => g[name] = new JinjaFunction(name, body);
        Add("range", args => Range(args, budget));
        Add("namespace", args =>
        {
            var ns = new Namespace();
            foreach (var p in args.Positional)
            {
                if (p is not PyDict d) throw TemplateException.Runtime("namespace() takes keyword arguments or a dict");
                foreach (var kv in d.Items) ns.Attributes[PyFormat.Str(PyDict.KeyValue(kv.Key), budget)] = kv.Value;
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
            throw new TemplateException(TemplateErrorKind.Raised, PyFormat.Str(args.Get(0, "message", ""), budget)));
        Add("strftime_now", args =>
        {
            args.Check("strftime_now", "format");
            string text = StrFTime(now(), args.Get(0, "format") as string ?? throw TemplateException.Runtime("strftime_now expects a format string"));
            budget.BuildString(text.Length, "strftime_now");
            return text;
        });
        foreach (var name in new[] { "lipsum", "cycler", "joiner" })
            Add(name, _ => throw TemplateException.Unsupported($"the global function '{name}'"));
        return g;
    }

    private static object? Range(CallArguments args, RenderBudget budget)
    {
        if (args.Keyword.Count > 0 || args.Positional.Count is 0 or > 3) throw TemplateException.Runtime("range expects 1 to 3 integer arguments");
        var n = args.Positional.Select(p => PyOperators.AsInt(p) ?? throw TemplateException.Runtime($"range() needs integers, got {PyOperators.TypeName(p)}")).ToArray();
        long start = n.Length > 1 ? n[0] : 0, stop = n.Length > 1 ? n[1] : n[0], step = n.Length > 2 ? n[2] : 1;
        if (step == 0) throw TemplateException.Runtime("range() arg 3 must not be zero");
        // len(range) computed exactly (128-bit: stop - start can overflow 64 bits), refused past the sandbox's
        // cap before any item is made: Jinja2's sandbox allows 100,000 (jinja2.sandbox.MAX_RANGE).
        Int128 span = step > 0 ? (Int128)stop - start : (Int128)start - stop;
        Int128 length = span <= 0 ? 0 : (span + Int128.Abs(step) - 1) / Int128.Abs(step);
        if (length > budget.Limits.MaxRange)
            throw RenderBudget.Exceeded($"range() would produce {length} items, more than {budget.Limits.MaxRange}", nameof(TemplateLimits.MaxRange));
        budget.BuildList((long)length, "range()");
        var list = new List<object?>((int)length);
        for (long i = 0; i < (long)length; i++) list.Add(start + i * step);
        string text = n.Length == 3 && step != 1 ? $"range({start}, {stop}, {step})" : $"range({start}, {stop})";
        return new PyView("range", list, text);
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
