using System.Globalization;

namespace QwenSharp.Grammar;

/// <summary>
/// Parses the regular-expression subset shared by ECMAScript (JSON Schema's "pattern") and Python (vLLM's
/// guided_regex) whose meaning is a regular language: literals, escapes, classes, '.', groups, alternation and
/// counted repetition, with '^' and '$' allowed only at the ends (the whole string is always matched).
/// Backreferences, lookaround, word boundaries, Unicode properties and inline flags are refused by name and position.
/// </summary>
internal sealed class RegexParser
{
    /// <summary>llama.cpp refuses repetition counts above this (MAX_REPETITION_THRESHOLD).</summary>
    public const int MaxRepeat = 2000;

    // Engines disagree on \d \w \s (ECMAScript: ASCII; Python and .NET: Unicode) and on astral characters (one
    // character in Python, two UTF-16 units in ECMAScript without 'u' and in .NET). So every set is read so that
    // what it admits matches in all of them: a shorthand stands for the ASCII set every engine includes, its
    // negation for what no engine includes (the Unicode set's complement), the other way round inside a negated
    // class, and classes and '.' never admit characters above U+FFFF.
    private static readonly CodePointSet Bmp = CodePointSet.Of((0, 0xFFFF));
    private static readonly CodePointSet Digit = CodePointSet.Of(('0', '9'));
    private static readonly CodePointSet Word = CodePointSet.Of(('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z'));
    private static readonly CodePointSet Space = CodePointSet.Of(('\t', '\r'), (' ', ' '));
    private static readonly Lazy<CodePointSet> UnicodeDigit = new(() => Category(c => c == UnicodeCategory.DecimalDigitNumber).Union(Digit));
    private static readonly Lazy<CodePointSet> UnicodeWord = new(() => Category(c => c is <= UnicodeCategory.OtherNumber or UnicodeCategory.ConnectorPunctuation).Union(Word));
    private static readonly Lazy<CodePointSet> UnicodeSpace = new(() => Category(c => c is UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
        .Union(CodePointSet.Of(('\t', '\r'), ('\x1C', ' '), ('\x85', '\x85'), ('\xA0', '\xA0'), ('\u180E', '\u180E'), ('\u200B', '\u200B'), ('\uFEFF', '\uFEFF'))));
    // ECMAScript's '.' leaves out \r, U+2028 and U+2029 as well as \n.
    private static readonly CodePointSet AnyButNewline = CodePointSet.Of(('\n', '\n'), ('\r', '\r'), ('\u2028', '\u2029')).Complement().Intersect(Bmp);

    private static CodePointSet Category(Func<UnicodeCategory, bool> member)
    {
        var ranges = new List<(int, int)>();
        for (int c = 0; c <= 0xFFFF; c++)
            if (member(CharUnicodeInfo.GetUnicodeCategory(c))) ranges.Add((c, c));
        return CodePointSet.Of(ranges.ToArray());
    }

    private readonly string _pattern;
    private readonly int[] _cps;
    private int _pos;

    private RegexParser(string pattern)
    {
        _pattern = pattern;
        _cps = GbnfText.CodePoints(pattern).ToArray();
    }

    public static RegexNode Parse(string pattern)
    {
        var parser = new RegexParser(pattern);
        if (parser.Peek('^')) parser._pos++;
        var node = parser.ParseAlternation(depth: 0);
        if (parser._pos < parser._cps.Length)
            throw parser.Error($"unmatched ')' at position {parser._pos}");
        return node;
    }

    private bool AtEnd => _pos >= _cps.Length;
    private bool Peek(char c) => !AtEnd && _cps[_pos] == c;

    private GrammarException Error(string what) => new($"Regular expression '{_pattern}': {what}.");

    private RegexNode ParseAlternation(int depth)
    {
        if (depth > 200) throw Error($"groups nested deeper than 200 at position {_pos}");
        var alternatives = new List<RegexNode> { ParseSequence(depth) };
        while (Peek('|'))
        {
            _pos++;
            alternatives.Add(ParseSequence(depth));
        }
        return alternatives.Count == 1 ? alternatives[0] : new RegexAlternation(alternatives);
    }

    private RegexNode ParseSequence(int depth)
    {
        var parts = new List<RegexNode>();
        while (!AtEnd && !Peek('|') && !Peek(')'))
        {
            int start = _pos;
            int c = _cps[_pos];
            if (c == '$')
            {
                if (_pos == _cps.Length - 1 && depth == 0) { _pos++; break; }
                throw Error($"anchor '$' at position {_pos} (anchors are supported only at the ends of the pattern)");
            }
            if (c == '^') throw Error($"anchor '^' at position {_pos} (anchors are supported only at the ends of the pattern)");
            if (c is '*' or '+' or '?') throw Error($"quantifier '{(char)c}' at position {_pos} has nothing to repeat");
            if (c == '{' && TryQuantifier(out _, out _, peekOnly: true))
                throw Error($"quantifier at position {_pos} has nothing to repeat");
            var atom = ParseAtom(depth);
            parts.Add(ParseQuantifiers(atom, start));
        }
        return parts.Count == 1 ? parts[0] : new RegexSequence(parts);
    }

    private RegexNode ParseQuantifiers(RegexNode atom, int atomStart)
    {
        bool quantified = false;
        while (!AtEnd)
        {
            int min, max;
            int at = _pos;
            int c = _cps[_pos];
            if (c == '*') { min = 0; max = -1; _pos++; }
            else if (c == '+') { min = 1; max = -1; _pos++; }
            else if (c == '?') { min = 0; max = 1; _pos++; }
            else if (c == '{' && TryQuantifier(out min, out max, peekOnly: false)) { }
            else break;
            if (quantified) throw Error($"quantifier at position {at} follows another quantifier (nothing to repeat)");
            if (Peek('?')) _pos++; // lazy: same language
            else if (Peek('+')) throw Error($"possessive quantifier at position {_pos}");
            if (min > MaxRepeat || max > MaxRepeat)
                throw Error($"repetition count {Math.Max(min, max)} at position {at} exceeds the limit {MaxRepeat}");
            if (max >= 0 && max < min) throw Error($"repetition {{{min},{max}}} at position {at} has its maximum below its minimum");
            atom = new RegexRepeat(atom, min, max < 0 ? null : max);
            quantified = true;
        }
        _ = atomStart;
        return atom;
    }

    /// <summary>{m}, {m,} or {m,n} at the current position; anything else leaves '{' a literal (as ECMAScript and Python do).</summary>
    private bool TryQuantifier(out int min, out int max, bool peekOnly)
    {
        min = max = 0;
        int p = _pos + 1;
        int ReadInt(ref int q)
        {
            int start = q;
            long value = 0;
            while (q < _cps.Length && _cps[q] >= '0' && _cps[q] <= '9')
            {
                value = Math.Min(value * 10 + (_cps[q] - '0'), int.MaxValue);
                q++;
            }
            return q == start ? -1 : (int)value;
        }
        int a = ReadInt(ref p);
        if (a < 0) return false;
        int b = a;
        if (p < _cps.Length && _cps[p] == ',')
        {
            p++;
            b = ReadInt(ref p); // -1: unbounded
        }
        if (p >= _cps.Length || _cps[p] != '}') return false;
        if (!peekOnly)
        {
            _pos = p + 1;
            min = a;
            max = b;
        }
        return true;
    }

    private RegexNode ParseAtom(int depth)
    {
        int at = _pos;
        int c = _cps[_pos++];
        switch (c)
        {
            case '.':
                return new RegexChars(AnyButNewline);
            case '[':
                return new RegexChars(ParseClass(at));
            case '(':
                ParseGroupOpening(at);
                var inner = ParseAlternation(depth + 1);
                if (!Peek(')')) throw Error($"group opened at position {at} is not closed");
                _pos++;
                return inner;
            case '\\':
                return new RegexChars(ParseEscape(at, inClass: false));
            default:
                if (c is >= 0xD800 and <= 0xDFFF) throw Error($"lone surrogate at position {at}");
                return new RegexChars(CodePointSet.Single(c));
        }
    }

    private void ParseGroupOpening(int at)
    {
        if (!Peek('?')) return;
        _pos++;
        if (Peek(':')) { _pos++; return; }
        string rest = Slice(_pos, Math.Min(_pos + 3, _cps.Length));
        if (rest.StartsWith('=') || rest.StartsWith('!')) throw Error($"lookahead '(?{rest[0]}' at position {at}");
        if (rest.StartsWith("<=") || rest.StartsWith("<!")) throw Error($"lookbehind '(?{rest[..2]}' at position {at}");
        if (rest.StartsWith("P=")) throw Error($"backreference '(?P=' at position {at}");
        if (rest.StartsWith('<') || rest.StartsWith("P<"))
        {
            // A named group: capture names do not change the language.
            _pos += rest.StartsWith('<') ? 1 : 2;
            while (!AtEnd && _cps[_pos] != '>')
            {
                if (!(_cps[_pos] < 0x80 && (char.IsAsciiLetterOrDigit((char)_cps[_pos]) || _cps[_pos] == '_')))
                    throw Error($"group name at position {at} is malformed");
                _pos++;
            }
            if (AtEnd) throw Error($"group name at position {at} is not closed");
            _pos++;
            return;
        }
        throw Error($"group construct '(?{(rest.Length > 0 ? rest[0].ToString() : "")}' at position {at} (inline flags, conditionals and other extensions are not supported)");
    }

    private CodePointSet ParseClass(int at)
    {
        bool negated = false;
        if (Peek('^')) { negated = true; _pos++; }
        if (Peek(']')) throw Error($"empty character class at position {at} (write ']' inside a class as '\\]')");
        var set = CodePointSet.Empty;
        while (true)
        {
            if (AtEnd) throw Error($"character class opened at position {at} is not closed");
            if (Peek(']')) { _pos++; break; }
            int itemAt = _pos;
            var (single, itemSet) = ParseClassItem(at, negated);
            if (single is int lo && Peek('-') && _pos + 1 < _cps.Length && _cps[_pos + 1] != ']')
            {
                _pos++;
                int rangeAt = _pos;
                var (hiSingle, _) = ParseClassItem(at, negated);
                if (hiSingle is not int hi) throw Error($"class range at position {itemAt} ends in a class escape at position {rangeAt}");
                if (hi < lo) throw Error($"class range at position {itemAt} is out of order");
                set = set.Union(CodePointSet.Of((lo, hi)));
            }
            else set = set.Union(itemSet);
        }
        if (negated) set = set.Complement();
        set = set.Intersect(Bmp);
        if (set.IsEmpty) throw Error($"character class at position {at} matches no character");
        return set;
    }

    private (int? Single, CodePointSet Set) ParseClassItem(int classAt, bool negated)
    {
        if (AtEnd) throw Error($"character class opened at position {classAt} is not closed");
        int at = _pos;
        int c = _cps[_pos++];
        if (c is >= 0xD800 and <= 0xDFFF) throw Error($"lone surrogate at position {at}");
        if (c != '\\') return (c, CodePointSet.Single(c));
        var set = ParseEscape(at, inClass: true, inNegatedClass: negated);
        bool single = set.Ranges.Count == 1 && set.Ranges[0].Lo == set.Ranges[0].Hi && _cps[at + 1] is not ('d' or 'w' or 's' or 'D' or 'W' or 'S');
        return (single ? set.Ranges[0].Lo : null, set);
    }

    /// <summary>The escape whose backslash is at <paramref name="at"/>; the position is just past the backslash.</summary>
    private CodePointSet ParseEscape(int at, bool inClass, bool inNegatedClass = false)
    {
        if (AtEnd) throw Error($"pattern ends in a lone backslash at position {at}");
        int c = _cps[_pos++];
        switch (c)
        {
            case 'd': return inNegatedClass ? UnicodeDigit.Value : Digit;
            case 'D': return (inNegatedClass ? Digit : UnicodeDigit.Value).Complement().Intersect(Bmp);
            case 'w': return inNegatedClass ? UnicodeWord.Value : Word;
            case 'W': return (inNegatedClass ? Word : UnicodeWord.Value).Complement().Intersect(Bmp);
            case 's': return inNegatedClass ? UnicodeSpace.Value : Space;
            case 'S': return (inNegatedClass ? Space : UnicodeSpace.Value).Complement().Intersect(Bmp);
            case 'n': return CodePointSet.Single('\n');
            case 'r': return CodePointSet.Single('\r');
            case 't': return CodePointSet.Single('\t');
            case 'f': return CodePointSet.Single('\f');
            case 'v': return CodePointSet.Single('\v');
            case 'b' when inClass: return CodePointSet.Single('\b');
            case 'b' or 'B': throw Error($"word boundary '\\{(char)c}' at position {at}");
            case '0' when AtEnd || _cps[_pos] < '0' || _cps[_pos] > '9': return CodePointSet.Single(0);
            case >= '0' and <= '9': throw Error($"backreference '\\{(char)c}' at position {at}");
            case 'k': throw Error($"named backreference '\\k' at position {at}");
            case 'p' or 'P': throw Error($"Unicode property escape '\\{(char)c}' at position {at}");
            case 'A' or 'Z' or 'z' or 'G': throw Error($"anchor '\\{(char)c}' at position {at}");
            case 'x': return CodePointSet.Single(ReadHex(at, 2));
            case 'u':
                if (Peek('{'))
                {
                    _pos++;
                    int start = _pos;
                    while (!AtEnd && _cps[_pos] != '}') _pos++;
                    if (AtEnd || _pos == start || _pos - start > 6) throw Error($"malformed '\\u{{...}}' escape at position {at}");
                    int value = int.Parse(Slice(start, _pos), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    _pos++;
                    if (value > GbnfText.MaxCodePoint) throw Error($"code point in '\\u{{...}}' at position {at} is above U+10FFFF");
                    return CodePointSet.Single(value);
                }
                int unit = ReadHex(at, 4);
                if (unit is >= 0xD800 and <= 0xDBFF && _pos + 1 < _cps.Length && _cps[_pos] == '\\' && _cps[_pos + 1] == 'u')
                {
                    // An escaped surrogate pair (ECMAScript writes astral characters so).
                    _pos += 2;
                    int low = ReadHex(at, 4);
                    if (low is >= 0xDC00 and <= 0xDFFF) return CodePointSet.Single(char.ConvertToUtf32((char)unit, (char)low));
                    throw Error($"lone surrogate escape at position {at}");
                }
                if (unit is >= 0xD800 and <= 0xDFFF) throw Error($"lone surrogate escape at position {at}");
                return CodePointSet.Single(unit);
            case 'c':
                if (!AtEnd && _cps[_pos] < 0x80 && char.IsAsciiLetter((char)_cps[_pos])) return CodePointSet.Single(_cps[_pos++] % 32);
                throw Error($"malformed control escape '\\c' at position {at}");
            default:
                if (c < 0x80 && char.IsAsciiLetter((char)c)) throw Error($"unknown escape '\\{(char)c}' at position {at}");
                return CodePointSet.Single(c);
        }
    }

    private int ReadHex(int at, int digits)
    {
        if (_pos + digits > _cps.Length) throw Error($"escape at position {at} needs {digits} hex digits");
        string text = Slice(_pos, _pos + digits);
        if (!int.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int value) || text.Contains(' '))
            throw Error($"escape at position {at} needs {digits} hex digits");
        _pos += digits;
        return value;
    }

    private string Slice(int from, int to)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = from; i < to; i++) sb.Append(char.ConvertFromUtf32(_cps[i] is >= 0xD800 and <= 0xDFFF ? 0xFFFD : _cps[i]));
        return sb.ToString();
    }
}
