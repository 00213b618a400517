using System.Globalization;
using System.Numerics;
using System.Text;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// Python's str() and repr() of template values, which is what <c>{{ x }}</c>, <c>~</c> and the string
/// filter print: None, True, 2.0, 1e-05, ['a', 1], {'k': 'v'}.
/// </summary>
internal static class PyFormat
{
    public static string Str(object? value, RenderBudget budget) => value switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(value, budget),
    };

    /// <summary>repr() of a template value, refused past MaxDepth levels of nesting (Python raises
    /// RecursionError) or MaxOutputLength characters (a list can hold the same long string many times).</summary>
    public static string Repr(object? value, RenderBudget budget)
    {
        var writer = new ReprWriter(budget.Limits.MaxDepth, budget.Limits.MaxOutputLength, truncate: false);
        writer.Write(value, 0);
        budget.BuildString(writer.Length, "repr()");
        return writer.ToString();
    }

    /// <summary>A short repr() for error messages: at most 200 characters, then "…".</summary>
    public static string Brief(object? value)
    {
        var writer = new ReprWriter(TemplateLimits.Default.MaxDepth, 200, truncate: true);
        writer.Write(value, 0);
        return writer.ToString();
    }

    private sealed class ReprWriter(int maxDepth, int maxLength, bool truncate)
    {
        private readonly StringBuilder _sb = new();
        private bool _full;

        public int Length => _sb.Length;

        public override string ToString() => _full ? _sb.Append('…').ToString() : _sb.ToString();

        private void Append(string text)
        {
            if (_full) return;
            if ((long)_sb.Length + text.Length > maxLength)
            {
                if (!truncate)
                    throw RenderBudget.Exceeded($"repr() would build a string of more than {maxLength} characters", nameof(TemplateLimits.MaxOutputLength));
                _sb.Append(text, 0, maxLength - _sb.Length);
                _full = true;
                return;
            }
            _sb.Append(text);
        }

        public void Write(object? value, int depth)
        {
            if (_full) return;
            if (depth > maxDepth)
            {
                if (!truncate) throw RenderBudget.ValueTooDeep(maxDepth);
                _full = true;
                return;
            }
            switch (value)
            {
                case null: Append("None"); break;
                case bool b: Append(b ? "True" : "False"); break;
                case long l: Append(l.ToString(CultureInfo.InvariantCulture)); break;
                case BigInteger bi: Append(bi.ToString(CultureInfo.InvariantCulture)); break;
                case double d: Append(FloatRepr(d)); break;
                case string s: Append(StringRepr(s)); break;
                case Undefined: Append("Undefined"); break;
                case PyView v when v.Text != null: Append(v.Text); break;
                case PyView v:
                    Append(v.TypeName + "(");
                    Items(v, "[", "]", depth);
                    Append(")");
                    break;
                case PyTuple t when t.Count == 1:
                    Append("(");
                    Write(t[0], depth + 1);
                    Append(",)");
                    break;
                case PyTuple t: Items(t, "(", ")", depth); break;
                case IReadOnlyList<object?> list: Items(list, "[", "]", depth); break;
                case PyDict dict:
                {
                    Append("{");
                    bool first = true;
                    foreach (var kv in dict.Items)
                    {
                        if (_full) return;
                        if (!first) Append(", ");
                        first = false;
                        Write(PyDict.KeyValue(kv.Key), depth + 1);
                        Append(": ");
                        Write(kv.Value, depth + 1);
                    }
                    Append("}");
                    break;
                }
                case Namespace ns:
                {
                    Append("<Namespace ");
                    bool first = true;
                    foreach (var kv in ns.Attributes)
                    {
                        if (_full) return;
                        if (!first) Append(", ");
                        first = false;
                        Append(kv.Key + "=");
                        Write(kv.Value, depth + 1);
                    }
                    Append(">");
                    break;
                }
                default: Append(value.ToString() ?? ""); break;
            }
        }

        private void Items(IReadOnlyList<object?> items, string open, string close, int depth)
        {
            Append(open);
            for (int i = 0; i < items.Count && !_full; i++)
            {
                if (i > 0) Append(", ");
                Write(items[i], depth + 1);
            }
            Append(close);
        }
    }

    /// <summary>Python's repr(float): the shortest digits that round-trip, fixed notation for exponents
    /// -4..15 with at least one decimal (2.0), otherwise scientific with a two-digit exponent (1e-05, 1e+16).</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        string sign = d < 0 || (d == 0 && double.IsNegative(d)) ? "-" : "";
        if (d == 0) return sign + "0.0";
        string r = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        int e = r.IndexOfAny(['E', 'e']);
        string mantissa = e >= 0 ? r[..e] : r;
        int exponent = e >= 0 ? int.Parse(r[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) : 0;
        int dot = mantissa.IndexOf('.');
        string digits = dot >= 0 ? mantissa.Remove(dot, 1) : mantissa;
        int decpt = (dot >= 0 ? dot : mantissa.Length) + exponent;
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0') lead++;
        digits = digits[lead..];
        decpt -= lead;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        if (decpt > -4 && decpt <= 16)
        {
            if (decpt <= 0) return sign + "0." + new string('0', -decpt) + digits;
            if (decpt >= digits.Length) return sign + digits + new string('0', decpt - digits.Length) + ".0";
            return sign + digits[..decpt] + "." + digits[decpt..];
        }
        int exp = decpt - 1;
        string m = digits.Length > 1 ? digits[0] + "." + digits[1..] : digits;
        return sign + m + "e" + (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture);
    }

    /// <summary>Python's repr(str): single quotes unless the text has ' and no ", backslash escapes for
    /// the quote, \\, \t, \n, \r and non-printable characters; printable non-ASCII kept as is.</summary>
    public static string StringRepr(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder(s.Length + 2).Append(quote);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == quote || c == '\\') sb.Append('\\').Append(c);
            else if (c == '\t') sb.Append("\\t");
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else if (c < 0x7f) sb.Append(c);
            else
            {
                int cp = c;
                int width = 1;
                if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                {
                    cp = char.ConvertToUtf32(c, s[i + 1]);
                    width = 2;
                }
                if (IsPrintable(cp)) sb.Append(s, i, width);
                else if (cp <= 0xff) sb.Append("\\x").Append(cp.ToString("x2", CultureInfo.InvariantCulture));
                else if (cp <= 0xffff) sb.Append("\\u").Append(cp.ToString("x4", CultureInfo.InvariantCulture));
                else sb.Append("\\U").Append(cp.ToString("x8", CultureInfo.InvariantCulture));
                i += width - 1;
            }
        }
        return sb.Append(quote).ToString();
    }

    /// <summary>str.isprintable() for one code point: not a control, format, surrogate, private-use,
    /// unassigned or separator character (the ASCII space excepted).</summary>
    private static bool IsPrintable(int cp)
    {
        var cat = CharUnicodeInfo.GetUnicodeCategory(cp);
        return cat is not (UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator
            or UnicodeCategory.ParagraphSeparator or UnicodeCategory.SpaceSeparator);
    }
}
