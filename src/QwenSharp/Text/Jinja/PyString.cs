using System.Buffers;
using System.Text;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// Python's str behaviour where templates depend on it: whitespace is what str.isspace() accepts
/// (C#'s char.IsWhiteSpace plus U+001C–U+001F), and a string is a sequence of code points, so length,
/// indexing, slicing and iteration count an emoji as one character, not two UTF-16 units.
/// </summary>
internal static class PyString
{
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    public static bool IsAllSpace(ReadOnlySpan<char> s)
    {
        foreach (char c in s)
            if (!IsSpace(c)) return false;
        return true;
    }

    public static string Strip(string s, string? chars = null) => RStrip(LStrip(s, chars), chars);

    public static string LStrip(string s, string? chars = null)
    {
        if (chars is { Length: > ShortCharSet })
        {
            int first = s.AsSpan().IndexOfAnyExcept(SearchValues.Create(chars));
            return first < 0 ? "" : s[first..];
        }
        int i = 0;
        while (i < s.Length && (chars == null ? IsSpace(s[i]) : chars.Contains(s[i]))) i++;
        return s[i..];
    }

    public static string RStrip(string s, string? chars = null)
    {
        if (chars is { Length: > ShortCharSet }) return s[..(s.AsSpan().LastIndexOfAnyExcept(SearchValues.Create(chars)) + 1)];
        int i = s.Length;
        while (i > 0 && (chars == null ? IsSpace(s[i - 1]) : chars.Contains(s[i - 1]))) i--;
        return s[..i];
    }

    /// <summary>Strip sets up to this long are scanned per character (templates strip '\n' or ' \n'); a longer
    /// set is indexed first, so stripping costs the string's length, not its length times the set's.</summary>
    private const int ShortCharSet = 16;

    private static bool HasSurrogates(string s) => s.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0;

    /// <summary>Whether every char passes (LINQ over a string enumerates through an interface, many times slower).</summary>
    public static bool All(string s, Func<char, bool> test)
    {
        foreach (char c in s)
            if (!test(c)) return false;
        return true;
    }

    public static bool Any(string s, Func<char, bool> test)
    {
        foreach (char c in s)
            if (test(c)) return true;
        return false;
    }

    /// <summary>Jinja2's lower/upper tests (str.islower/isupper): some char of the case, none of the other.</summary>
    public static bool IsAllOneCase(string s, bool lower)
    {
        bool cased = false;
        foreach (char c in s)
        {
            if (lower ? char.IsUpper(c) : char.IsLower(c)) return false;
            cased |= lower ? char.IsLower(c) : char.IsUpper(c);
        }
        return cased;
    }

    /// <summary>The string's code points one by one (first, join and sum need not build them all).</summary>
    public static IEnumerable<string> EnumerateCodePoints(string s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                yield return s.Substring(i, 2);
                i++;
            }
            else yield return s[i].ToString();
        }
    }

    public static int Length(string s)
    {
        int first = s.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF');
        if (first < 0) return s.Length;
        int n = first;
        for (int i = first; i < s.Length; i++, n++)
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
        return n;
    }

    /// <summary>The UTF-16 offset where each code point starts, then s.Length (for strings with surrogates).</summary>
    private static int[] CodePointStarts(string s)
    {
        var starts = new List<int>(s.Length + 1);
        for (int i = 0; i < s.Length; i++)
        {
            starts.Add(i);
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
        }
        starts.Add(s.Length);
        return starts.ToArray();
    }

    /// <summary>s[index] with Python's negative indices; null when out of range.</summary>
    public static string? At(string s, long index)
    {
        if (!HasSurrogates(s))
        {
            if (index < 0) index += s.Length;
            return index >= 0 && index < s.Length ? s[(int)index].ToString() : null;
        }
        var starts = CodePointStarts(s);
        int count = starts.Length - 1;
        if (index < 0) index += count;
        return index >= 0 && index < count ? s[starts[index]..starts[index + 1]] : null;
    }

    public static string Slice(string s, long? start, long? stop, long? step)
    {
        if (!HasSurrogates(s))
        {
            if (step is null or 1)
            {
                var range = PyOperators.SliceIndices(s.Length, start, stop, 1);
                int from = -1, to = -1;
                foreach (int i in range)
                {
                    if (from < 0) from = i;
                    to = i;
                }
                return from < 0 ? "" : s.Substring(from, to - from + 1);
            }
            var picked = new StringBuilder();
            foreach (int i in PyOperators.SliceIndices(s.Length, start, stop, step)) picked.Append(s[i]);
            return picked.ToString();
        }
        var starts = CodePointStarts(s);
        var sb = new StringBuilder();
        foreach (int i in PyOperators.SliceIndices(starts.Length - 1, start, stop, step)) sb.Append(s, starts[i], starts[i + 1] - starts[i]);
        return sb.ToString();
    }

    /// <summary>str.split(sep, maxsplit) including the no-separator form that splits on whitespace runs
    /// and drops empty pieces.</summary>
    public static List<object?> Split(string s, string? sep, long maxSplit, RenderBudget budget)
    {
        var parts = new Pieces(budget, "str.split");
        if (sep == null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && IsSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxSplit >= 0 && parts.Count == maxSplit)
                {
                    parts.Add(RStrip(s[i..]));
                    break;
                }
                int j = i;
                while (j < s.Length && !IsSpace(s[j])) j++;
                parts.Add(s[i..j]);
                i = j;
            }
            return parts.List;
        }
        if (sep.Length == 0) throw TemplateException.Runtime("empty separator in split()");
        int start = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            int k = s.IndexOf(sep, start, StringComparison.Ordinal);
            if (k < 0) break;
            parts.Add(s[start..k]);
            start = k + sep.Length;
        }
        parts.Add(s[start..]);
        return parts.List;
    }

    /// <summary>str.rsplit(sep, maxsplit) with an explicit separator.</summary>
    public static List<object?> RSplit(string s, string? sep, long maxSplit, RenderBudget budget)
    {
        if (sep == null || maxSplit < 0) return Split(s, sep, maxSplit, budget);
        if (sep.Length == 0) throw TemplateException.Runtime("empty separator in rsplit()");
        var parts = new Pieces(budget, "str.rsplit");
        int end = s.Length;
        while (parts.Count < maxSplit)
        {
            int k = end - sep.Length < 0 ? -1 : s.LastIndexOf(sep, end - 1, end, StringComparison.Ordinal);
            if (k < 0) break;
            parts.Add(s[(k + sep.Length)..end]);
            end = k;
        }
        parts.Add(s[..end]);
        parts.List.Reverse();
        return parts.List;
    }

    /// <summary>The pieces of a split, refused past MaxListLength as they are found (a long string of
    /// separators would otherwise become millions of strings first).</summary>
    private readonly struct Pieces(RenderBudget budget, string what)
    {
        public List<object?> List { get; } = new();

        public int Count => List.Count;

        public void Add(string piece)
        {
            if (List.Count >= budget.Limits.MaxListLength) budget.BuildList(List.Count + 1L, what);
            List.Add(piece);
        }
    }

    /// <summary>str.title(): a letter after a non-letter is upper-cased, the other letters lower-cased.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            sb.Append(previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousCased = char.IsLetter(c);
        }
        return sb.ToString();
    }

    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    /// <summary>Python's code-point ordering of strings (UTF-16 ordinal order differs above U+FFFF).</summary>
    public static int Compare(string a, string b)
    {
        int i = 0, j = 0;
        while (i < a.Length && j < b.Length)
        {
            int ca = NextCodePoint(a, ref i), cb = NextCodePoint(b, ref j);
            if (ca != cb) return ca < cb ? -1 : 1;
        }
        return (a.Length - i).CompareTo(b.Length - j);
    }

    private static int NextCodePoint(string s, ref int i)
    {
        if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
        {
            int cp = char.ConvertToUtf32(s[i], s[i + 1]);
            i += 2;
            return cp;
        }
        return s[i++];
    }

    /// <summary>str.splitlines(): breaks at \n, \r, \r\n, \v, \f, \x1c–\x1e, \x85, U+2028 and U+2029.</summary>
    public static List<string> SplitLines(string s, RenderBudget budget)
    {
        var lines = new List<string>();
        int start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')
            {
                if (lines.Count >= budget.Limits.MaxListLength) budget.BuildList(lines.Count + 1L, "splitting lines");
                lines.Add(s[start..i]);
                if (c == '\r' && i + 1 < s.Length && s[i + 1] == '\n') i++;
                start = i + 1;
            }
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }
}
