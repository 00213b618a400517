using System.Globalization;
using System.Text;

namespace QwenSharp.Grammar;

/// <summary>
/// Spelling of GBNF terminals in llama.cpp's syntax (grammars/README.md): quoted literals and character classes.
/// Everything outside printable ASCII is written as a \x, \u or \U escape, and so are the characters that are
/// special inside a literal or a class, so that the text is plain ASCII and reads the same to every GBNF parser
/// (llama.cpp's parse_char knows only \x \u \U \t \r \n \\ \" \[ \]; a '-' inside a class has no escape of its own).
/// </summary>
internal static class GbnfText
{
    /// <summary>The highest Unicode scalar value.</summary>
    public const int MaxCodePoint = 0x10FFFF;

    /// <summary>A quoted literal matching exactly <paramref name="text"/> (by code points).</summary>
    public static string Literal(string text)
    {
        var sb = new StringBuilder("\"");
        foreach (int c in CodePoints(text))
        {
            if (c == '"') sb.Append("\\\"");
            else if (c == '\\') sb.Append("\\\\");
            else if (c >= 0x20 && c < 0x7F) sb.Append((char)c);
            else AppendEscape(sb, c);
        }
        return sb.Append('"').ToString();
    }

    /// <summary>A character class matching one code point of the given inclusive ranges (sorted, disjoint, non-empty).</summary>
    public static string Class(IReadOnlyList<(int Lo, int Hi)> ranges, bool negated = false)
    {
        var sb = new StringBuilder(negated ? "[^" : "[");
        foreach (var (lo, hi) in ranges)
        {
            AppendClassChar(sb, lo);
            if (hi == lo) continue;
            if (hi > lo + 1) sb.Append('-');
            AppendClassChar(sb, hi);
        }
        return sb.Append(']').ToString();
    }

    /// <summary>Whether <paramref name="name"/> is a GBNF rule name (llama.cpp: letters, digits and '-').</summary>
    public static bool IsRuleName(string name)
    {
        if (name.Length == 0) return false;
        foreach (char c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-')) return false;
        return true;
    }

    /// <summary>Letters and digits of <paramref name="text"/> kept, every other run turned into one '-'; never empty.</summary>
    public static string RuleNamePart(string text)
    {
        var sb = new StringBuilder();
        foreach (char c in text)
        {
            if (char.IsAsciiLetterOrDigit(c)) sb.Append(c);
            else if (sb.Length > 0 && sb[^1] != '-') sb.Append('-');
        }
        while (sb.Length > 0 && sb[^1] == '-') sb.Length--;
        if (sb.Length > 40) sb.Length = 40;
        return sb.Length == 0 ? "x" : sb.ToString();
    }

    /// <summary>Checks a caller's rule name or prefix, naming it in the error.</summary>
    public static void CheckName(string name, string what, bool mayBeEmpty)
    {
        if (name.Length == 0 && mayBeEmpty) return;
        if (!IsRuleName(name))
            throw new GrammarException($"The {what} '{name}' is not a GBNF rule name (letters, digits and '-' only).");
    }

    /// <summary>The code points of a UTF-16 string; a lone surrogate counts as itself.</summary>
    public static IEnumerable<int> CodePoints(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                yield return char.ConvertToUtf32(text[i], text[i + 1]);
                i++;
            }
            else yield return text[i];
        }
    }

    private static void AppendClassChar(StringBuilder sb, int c)
    {
        bool plain = c >= 0x20 && c < 0x7F && (char.IsAsciiLetterOrDigit((char)c) || " !#$%&'()*+,./:;<=>?@_`{|}~".Contains((char)c));
        if (plain) sb.Append((char)c);
        else AppendEscape(sb, c);
    }

    private static void AppendEscape(StringBuilder sb, int c)
    {
        if (c == '\n') sb.Append("\\n");
        else if (c == '\r') sb.Append("\\r");
        else if (c == '\t') sb.Append("\\t");
        else if (c <= 0xFF) sb.Append("\\x").Append(c.ToString("X2", CultureInfo.InvariantCulture));
        else if (c <= 0xFFFF) sb.Append("\\u").Append(c.ToString("X4", CultureInfo.InvariantCulture));
        else sb.Append("\\U").Append(c.ToString("X8", CultureInfo.InvariantCulture));
    }
}
