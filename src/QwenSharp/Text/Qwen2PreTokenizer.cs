using System.Globalization;

namespace QwenSharp.Text;

/// <summary>
/// Qwen2's pre-tokenizer regex, run as a hand-written scanner over code points. The pattern (from Qwen2's
/// tokenizer.json, a Split with behaviour Isolated, matched by Oniguruma in HF tokenizers) is
/// <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>.
/// Every character is matched by one alternative, so the pieces tile the text. Oniguruma's classes: \s is
/// Unicode White_Space (U+0085 included, U+FEFF not), \p{L} and \p{N} the general categories, and the
/// case-insensitive contractions also accept U+017F 'ſ' (it case-folds to 's').
/// </summary>
internal static class Qwen2PreTokenizer
{
    public const string Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private const byte Other = 0, Letter = 1, Number = 2, Space = 4, Newline = 8;
    private static readonly byte[] s_bmp = BuildBmpClasses();

    /// <summary>The end (exclusive) of the piece that starts at <paramref name="i"/>.</summary>
    public static int NextPieceEnd(ReadOnlySpan<char> s, int i)
    {
        int n = s.Length;
        char c = s[i];
        if (c == '\'' && i + 1 < n)
        {
            char c1 = FoldAscii(s[i + 1]);
            if (c1 is 's' or 't' or 'm' or 'd') return i + 2;
            if (i + 2 < n)
            {
                char c2 = FoldAscii(s[i + 2]);
                if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return i + 3;
            }
        }
        byte cls = ClassAt(s, i, out int w);
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (cls == Letter) return ScanLetters(s, i + w);
        if ((cls & (Number | Newline)) == 0 && i + w < n && ClassAt(s, i + w, out int w2) == Letter)
            return ScanLetters(s, i + w + w2);
        // \p{N}
        if (cls == Number) return i + w;
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        int start = -1;
        if (cls == Other) start = i;
        else if (c == ' ' && i + 1 < n && ClassAt(s, i + 1, out _) == Other) start = i + 1;
        if (start >= 0)
        {
            int j = start;
            while (j < n && ClassAt(s, j, out int wj) == Other) j += wj;
            while (j < n && s[j] is '\r' or '\n') j++;
            return j;
        }
        // What is left starts with white space (all of it is in the BMP, one char each).
        int end = i;
        int lastNewline = -1;
        while (end < n && (s_bmp[s[end]] & Space) != 0)
        {
            if (s[end] is '\r' or '\n') lastNewline = end;
            end++;
        }
        // \s*[\r\n]+
        if (lastNewline >= 0) return lastNewline + 1;
        // \s+(?!\S), then \s+
        if (end == n || end - i == 1) return end;
        return end - 1;
    }

    private static int ScanLetters(ReadOnlySpan<char> s, int j)
    {
        while (j < s.Length)
        {
            char c = s[j];
            if (c < 0xD800 || c > 0xDFFF)
            {
                if (s_bmp[c] != Letter) break;
                j++;
            }
            else if (ClassAt(s, j, out int w) == Letter) j += w;
            else break;
        }
        return j;
    }

    private static char FoldAscii(char c) => c == '\u017F' ? 's' : (uint)(c - 'A') <= 'Z' - 'A' ? (char)(c | 0x20) : c;

    private static byte ClassAt(ReadOnlySpan<char> s, int i, out int width)
    {
        char c = s[i];
        width = 1;
        if (!char.IsHighSurrogate(c) || i + 1 >= s.Length || !char.IsLowSurrogate(s[i + 1])) return s_bmp[c];
        width = 2;
        return FromCategory(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(c, s[i + 1])));
    }

    private static byte FromCategory(UnicodeCategory cat) => cat switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Letter,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Number,
        _ => Other,
    };

    private static byte[] BuildBmpClasses()
    {
        var table = new byte[0x10000];
        for (int c = 0; c < 0x10000; c++)
            table[c] = c is >= 0xD800 and <= 0xDFFF ? Other : FromCategory(CharUnicodeInfo.GetUnicodeCategory((char)c));
        // Unicode White_Space, the set Oniguruma's \s matches.
        foreach (char c in "\t\v\f \u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000")
            table[c] = Space;
        table['\n'] = Space | Newline;
        table['\r'] = Space | Newline;
        return table;
    }

    internal static bool IsWhiteSpace(char c) => (s_bmp[c] & Space) != 0;
}
