using System.Buffers;

namespace QwenSharp.Text;

/// <summary>
/// Finds added tokens in text the way HF's AddedVocabulary does: leftmost-longest, non-overlapping matches
/// (its Aho-Corasick automaton uses MatchKind::LeftmostLongest), then LStrip/RStrip widen a match over the
/// white space beside it and SingleWord drops a match that touches a word character.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly SearchValues<char> _firstChars;
    private readonly Dictionary<char, (AddedToken Token, string Content)[]> _byFirstChar; // longest first
    private readonly AddedToken[] _tokens;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens, Func<AddedToken, string> contentOf)
    {
        var withContent = tokens.Select(t => (Token: t, Content: contentOf(t))).Where(p => p.Content.Length > 0).ToArray();
        _tokens = withContent.Select(p => p.Token).ToArray();
        _byFirstChar = withContent.GroupBy(p => p.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(p => p.Content.Length).ToArray());
        _firstChars = SearchValues.Create(_byFirstChar.Keys.ToArray());
    }

    public bool IsEmpty => _tokens.Length == 0;

    /// <summary>
    /// The next match at or after <paramref name="from"/>: the token, and the span [start, end) it takes
    /// (white space swallowed by LStrip/RStrip included). False when there is none.
    /// </summary>
    public bool FindNext(ReadOnlySpan<char> text, int from, int floor, out AddedToken token, out int start, out int end)
    {
        int i = from;
        while (i < text.Length)
        {
            int k = text[i..].IndexOfAny(_firstChars);
            if (k < 0) break;
            i += k;
            foreach (var (t, content) in _byFirstChar[text[i]])
            {
                if (!text[i..].StartsWith(content, StringComparison.Ordinal)) continue;
                int mStart = i, mEnd = i + content.Length;
                if (t.SingleWord && (mStart > 0 && IsWordChar(text[mStart - 1]) || mEnd < text.Length && IsWordChar(text[mEnd])))
                {
                    // HF drops the match and goes on after it.
                    i = mEnd - 1;
                    break;
                }
                if (t.LStrip)
                    while (mStart > floor && Qwen2PreTokenizer.IsWhiteSpace(text[mStart - 1])) mStart--;
                if (t.RStrip)
                    while (mEnd < text.Length && Qwen2PreTokenizer.IsWhiteSpace(text[mEnd])) mEnd++;
                token = t;
                start = mStart;
                end = mEnd;
                return true;
            }
            i++;
        }
        token = null!;
        start = end = -1;
        return false;
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
}
