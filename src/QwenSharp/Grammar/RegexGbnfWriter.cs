using System.Globalization;
using System.Text;

namespace QwenSharp.Grammar;

/// <summary>
/// Writes a parsed regular expression as one GBNF expression, either over the text itself or over the text as
/// it appears inside a JSON string (schema "pattern"): there every '"', '\' and control character of the
/// language is spelt by its one JSON escape, so the decoded string is what the pattern matches.
/// </summary>
internal static class RegexGbnfWriter
{
    private static readonly CodePointSet JsonSpecial = CodePointSet.Of(('\0', '\x1F'), ('"', '"'), ('\\', '\\'));

    public static string Write(RegexNode node, bool insideJsonString) => Emit(node, insideJsonString).Text;

    /// <summary>The JSON escape of a character that may not appear raw in a JSON string.</summary>
    public static string JsonEscape(int c) => c switch
    {
        '"' => "\\\"",
        '\\' => "\\\\",
        '\b' => "\\b",
        '\f' => "\\f",
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        _ => "\\u" + c.ToString("x4", CultureInfo.InvariantCulture),
    };

    /// <summary>The text as it is spelt inside a JSON string (escapes for '"', '\' and controls).</summary>
    public static string JsonSpell(string text)
    {
        var sb = new StringBuilder();
        foreach (int c in GbnfText.CodePoints(text))
        {
            if (c < 0x20 || c == '"' || c == '\\') sb.Append(JsonEscape(c));
            else sb.Append(char.ConvertFromUtf32(c is >= 0xD800 and <= 0xDFFF ? 0xFFFD : c));
        }
        return sb.ToString();
    }

    // Atomic: may take a quantifier or sit in a sequence without parentheses.
    private readonly record struct Expr(string Text, bool Atomic, bool IsAlternation);

    private static Expr Emit(RegexNode node, bool json)
    {
        switch (node)
        {
            case RegexChars chars:
                return EmitChars(chars.Set, json);
            case RegexSequence seq:
                return EmitSequence(seq.Parts, json);
            case RegexAlternation alt:
                return new Expr(string.Join(" | ", alt.Alternatives.Select(a => Emit(a, json).Text)), false, true);
            case RegexRepeat rep:
                {
                    var item = Emit(rep.Item, json);
                    string text = item.Atomic ? item.Text : "(" + item.Text + ")";
                    string q = (rep.Min, rep.Max) switch
                    {
                        (0, 1) => "?",
                        (0, null) => "*",
                        (1, null) => "+",
                        (var m, null) => "{" + m + ",}",
                        (var m, int x) when m == x => "{" + m + "}",
                        (var m, int x) => "{" + m + "," + x + "}",
                    };
                    if (rep.Max == 0) return new Expr("\"\"", true, false);
                    if (rep.Min == 1 && rep.Max == 1) return item;
                    return new Expr(text + q, true, false);
                }
            default:
                throw new InvalidOperationException(node.GetType().Name);
        }
    }

    private static Expr EmitSequence(IReadOnlyList<RegexNode> parts, bool json)
    {
        if (parts.Count == 0) return new Expr("\"\"", true, false);
        var pieces = new List<string>();
        var literal = new StringBuilder();
        void Flush()
        {
            if (literal.Length == 0) return;
            pieces.Add(GbnfText.Literal(literal.ToString()));
            literal.Clear();
        }
        foreach (var part in parts)
        {
            if (part is RegexChars { Set.Ranges: [var (lo, hi)] } && lo == hi)
            {
                literal.Append(json && JsonSpecial.Contains(lo) ? JsonEscape(lo) : char.ConvertFromUtf32(lo));
                continue;
            }
            Flush();
            var e = Emit(part, json);
            pieces.Add(e.IsAlternation ? "(" + e.Text + ")" : e.Text);
        }
        Flush();
        return pieces.Count == 1 ? new Expr(pieces[0], true, false) : new Expr(string.Join(" ", pieces), false, false);
    }

    private static Expr EmitChars(CodePointSet set, bool json)
    {
        if (!json)
        {
            if (set.Ranges is [var (lo, hi)] && lo == hi) return new Expr(GbnfText.Literal(char.ConvertFromUtf32(lo)), true, false);
            return new Expr(set.ToGbnfClass(), true, false);
        }
        var raw = set.Except(JsonSpecial);
        var alternatives = new List<string>();
        if (!raw.IsEmpty)
            alternatives.Add(raw.Ranges is [var (lo, hi)] && lo == hi ? GbnfText.Literal(char.ConvertFromUtf32(lo)) : raw.ToGbnfClass());
        foreach (var (lo, hi) in set.Intersect(JsonSpecial).Ranges)
            for (int c = lo; c <= hi; c++) alternatives.Add(GbnfText.Literal(JsonEscape(c)));
        return alternatives.Count == 1
            ? new Expr(alternatives[0], true, false)
            : new Expr("(" + string.Join(" | ", alternatives) + ")", true, false);
    }
}
