using System.Globalization;
using System.Text;

namespace QwenSharp.Text.ToolCalls;

/// <summary>
/// Python's <c>json.dumps(value, ensure_ascii=False)</c> for the values <see cref="PythonJsonReader"/> builds:
/// separators ", " and ": ", keys in their order, non-ASCII text as is, and only '"', '\', and the control
/// characters U+0000..U+001F escaped (\n \r \t \b \f by name, the rest as \u00XX).
/// </summary>
internal static class PythonJsonWriter
{
    public static string Dumps(object? value)
    {
        var sb = new StringBuilder();
        // An explicit stack: arguments may nest up to PythonJsonReader.MaxDepth levels.
        var work = new Stack<object?>();
        work.Push(value);
        while (work.Count > 0)
        {
            switch (work.Pop())
            {
                case Text t: sb.Append(t.Value); break;
                case null: sb.Append("null"); break;
                case bool b: sb.Append(b ? "true" : "false"); break;
                case string s: WriteString(sb, s); break;
                case PyNumber n: sb.Append(n.Text); break;
                case OrderedDictionary<string, object?> obj:
                {
                    sb.Append('{');
                    work.Push(new Text("}"));
                    for (int i = obj.Count - 1; i >= 0; i--)
                    {
                        var (key, item) = obj.GetAt(i);
                        work.Push(item);
                        work.Push(new Text(Quote(key) + ": "));
                        if (i > 0) work.Push(new Text(", "));
                    }
                    break;
                }
                case List<object?> list:
                {
                    sb.Append('[');
                    work.Push(new Text("]"));
                    for (int i = list.Count - 1; i >= 0; i--)
                    {
                        work.Push(list[i]);
                        if (i > 0) work.Push(new Text(", "));
                    }
                    break;
                }
                case var other:
                    throw new ArgumentException($"A value of type {other.GetType().Name} is not a JSON value.", nameof(value));
            }
        }
        return sb.ToString();
    }

    private sealed record Text(string Value);

    private static string Quote(string s)
    {
        var sb = new StringBuilder(s.Length + 2);
        WriteString(sb, s);
        return sb.ToString();
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s) AppendEscaped(sb, c);
        sb.Append('"');
    }

    /// <summary>One character of a string's body as json.dumps(ensure_ascii=False) writes it.</summary>
    public static void AppendEscaped(StringBuilder sb, char c)
    {
        switch (c)
        {
            case '"': sb.Append("\\\""); break;
            case '\\': sb.Append("\\\\"); break;
            case '\n': sb.Append("\\n"); break;
            case '\r': sb.Append("\\r"); break;
            case '\t': sb.Append("\\t"); break;
            case '\b': sb.Append("\\b"); break;
            case '\f': sb.Append("\\f"); break;
            default:
                if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                else sb.Append(c);
                break;
        }
    }
}
