using System.Globalization;
using System.Numerics;
using System.Text;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// Python's <c>json.dumps</c>, which Hugging Face's <c>tojson</c> filter calls (transformers'
/// chat_template_utils: <c>json.dumps(x, ensure_ascii=False, indent=indent, separators=separators,
/// sort_keys=sort_keys)</c>, replacing Jinja2's HTML-escaping, key-sorting filter). Separators default to
/// ", " and ": " (or "," and ": " with an indent); keys keep their order; floats print as Python's repr.
/// </summary>
internal static class PyJson
{
    /// <summary>The JSON text, refused past MaxDepth levels of nesting (Python's encoder raises RecursionError)
    /// or MaxOutputLength characters.</summary>
    public static string Dumps(object? value, RenderBudget budget, bool ensureAscii = false, string? indent = null,
        string? itemSeparator = null, string? keySeparator = null, bool sortKeys = false)
    {
        var w = new Writer(budget, ensureAscii, indent, itemSeparator ?? (indent == null ? ", " : ","), keySeparator ?? ": ", sortKeys);
        w.Write(value, 0);
        budget.BuildString(w.Length, "tojson");
        return w.Result;
    }

    private sealed class Writer(RenderBudget budget, bool ensureAscii, string? indent, string itemSeparator, string keySeparator, bool sortKeys)
    {
        private readonly StringBuilder _sb = new();

        public string Result => _sb.ToString();

        public int Length => _sb.Length;

        /// <summary>Called after each piece is written: a piece is bounded (a string at most six times its
        /// bounded input, an indentation checked before it is built), so the text never grows far past the limit.</summary>
        private void CheckLength()
        {
            if (_sb.Length > budget.Limits.MaxOutputLength)
                throw RenderBudget.Exceeded($"tojson would build a string of more than {budget.Limits.MaxOutputLength} characters", nameof(TemplateLimits.MaxOutputLength));
        }

        public void Write(object? value, int level)
        {
            if (level > budget.Limits.MaxDepth) throw RenderBudget.ValueTooDeep(budget.Limits.MaxDepth);
            budget.Step();
            switch (value)
            {
                case null: _sb.Append("null"); break;
                case bool b: _sb.Append(b ? "true" : "false"); break;
                case long l: _sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
                case BigInteger bi: _sb.Append(bi.ToString(CultureInfo.InvariantCulture)); break;
                case double d: _sb.Append(Float(d)); break;
                case string s: WriteString(s); CheckLength(); break;
                case PyView view:
                    throw TemplateException.Runtime($"Object of type {view.TypeName} is not JSON serializable");
                case IReadOnlyList<object?> list:
                    WriteContainer('[', ']', list.Count, level, (i, lv) => Write(list[i], lv));
                    break;
                case PyDict dict:
                {
                    var items = dict.Items.Select(kv => (Key: KeyString(PyDict.KeyValue(kv.Key)), kv.Value)).ToList();
                    if (sortKeys) items.Sort((a, b) => PyString.Compare(a.Key, b.Key));
                    WriteContainer('{', '}', items.Count, level, (i, lv) =>
                    {
                        WriteString(items[i].Key);
                        _sb.Append(keySeparator);
                        Write(items[i].Value, lv);
                    });
                    break;
                }
                default:
                    throw TemplateException.Runtime($"Object of type {PyOperators.TypeName(value)} is not JSON serializable");
            }
        }

        private void WriteContainer(char open, char close, int count, int level, Action<int, int> writeItem)
        {
            if (count == 0)
            {
                _sb.Append(open).Append(close);
                return;
            }
            _sb.Append(open);
            string? inner = indent == null ? null : "\n" + Indentation(level + 1);
            for (int i = 0; i < count; i++)
            {
                if (i > 0) _sb.Append(itemSeparator);
                if (inner != null) _sb.Append(inner);
                CheckLength();
                writeItem(i, level + 1);
            }
            if (indent != null) _sb.Append('\n').Append(Indentation(level));
            _sb.Append(close);
            CheckLength();
        }

        private string Indentation(int level)
        {
            if ((long)indent!.Length * level > budget.Limits.MaxOutputLength - _sb.Length)
                throw RenderBudget.Exceeded($"tojson's indentation would build a string of more than {budget.Limits.MaxOutputLength} characters", nameof(TemplateLimits.MaxOutputLength));
            return string.Concat(Enumerable.Repeat(indent, level));
        }

        private static string KeyString(object? key) => key switch
        {
            string s => s,
            null => "null",
            bool b => b ? "true" : "false",
            long l => l.ToString(CultureInfo.InvariantCulture),
            double d => Float(d),
            _ => throw TemplateException.Runtime($"keys must be str, int, float, bool or None, not {PyOperators.TypeName(key)}"),
        };

        private static string Float(double d) =>
            double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PyFormat.FloatRepr(d);

        private void WriteString(string s)
        {
            _sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': _sb.Append("\\\""); break;
                    case '\\': _sb.Append("\\\\"); break;
                    case '\n': _sb.Append("\\n"); break;
                    case '\r': _sb.Append("\\r"); break;
                    case '\t': _sb.Append("\\t"); break;
                    case '\b': _sb.Append("\\b"); break;
                    case '\f': _sb.Append("\\f"); break;
                    default:
                        if (c < 0x20 || (ensureAscii && c > 0x7e))
                            _sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else _sb.Append(c);
                        break;
                }
            }
            _sb.Append('"');
        }
    }
}
