using System.Globalization;

namespace QwenSharp.Grammar;

/// <summary>
/// Parses GBNF as llama.cpp's grammar parser does (llama-grammar.cpp, grammars/README.md): `name ::= alternatives`
/// rules, one per line (newlines are white space only inside parentheses and after `|` or `::=`), `#` comments,
/// quoted literals and [character classes] with the escapes \x \u \U \t \r \n \\ \" \[ \], `.` for any character,
/// rule references, groups and the repetitions * + ? {m} {m,} {m,n}. A rule defined twice keeps its last body,
/// as llama.cpp does. Errors name line:column.
/// </summary>
internal sealed class GbnfParser
{
    /// <summary>Longest grammar text accepted, in UTF-16 characters.</summary>
    public const int MaxTextLength = 1 << 20;

    /// <summary>Deepest nesting of parentheses accepted (the parser recurses once per level).</summary>
    public const int MaxNesting = 256;

    /// <summary>Largest repetition bound, llama.cpp's MAX_REPETITION_THRESHOLD.</summary>
    public const int MaxRepetition = 2000;

    /// <summary>Most repetition operators applied in a row to one item (e.g. "a"***), so that nesting stays shallow.</summary>
    public const int MaxStackedRepetitions = 8;

    private readonly string _text;
    private int _pos;
    private int _depth;

    private GbnfParser(string text) => _text = text;

    /// <summary>The rules in order of definition (a redefinition replaces the body in place).</summary>
    public static List<GbnfRule> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > MaxTextLength)
            throw new GrammarException($"Grammar text of {text.Length} characters exceeds the limit of {MaxTextLength}.");
        return new GbnfParser(text).ParseRules();
    }

    /// <summary>"line L, column C" of a character offset (1-based, columns in UTF-16 characters).</summary>
    public static string Where(string text, int position)
    {
        int line = 1, lineStart = 0;
        for (int i = 0; i < position && i < text.Length; i++)
            if (text[i] == '\n') { line++; lineStart = i + 1; }
        return $"line {line}, column {position - lineStart + 1}";
    }

    private GrammarException Error(string problem, int? at = null) =>
        new($"GBNF error at {Where(_text, at ?? _pos)}: {problem}.");

    private char Peek(int ahead = 0) => _pos + ahead < _text.Length ? _text[_pos + ahead] : '\0';
    private bool AtEnd => _pos >= _text.Length;

    private List<GbnfRule> ParseRules()
    {
        var rules = new List<GbnfRule>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        SkipSpace(newlineOk: true);
        while (!AtEnd)
        {
            int start = _pos;
            string name = ParseName("a rule name");
            SkipSpace(newlineOk: false);
            if (!(Peek() == ':' && Peek(1) == ':' && Peek(2) == '='))
                throw Error($"expecting '::=' after rule name '{name}'");
            _pos += 3;
            SkipSpace(newlineOk: true);
            var body = ParseAlternatives(nested: false);
            if (Peek() == '\r') _pos += Peek(1) == '\n' ? 2 : 1;
            else if (Peek() == '\n') _pos++;
            else if (!AtEnd) throw Error($"expecting newline or end of rule '{name}', found '{Printable(Peek())}'");
            SkipSpace(newlineOk: true);
            var rule = new GbnfRule(name, start, body);
            if (index.TryGetValue(name, out int at)) rules[at] = rule;
            else { index[name] = rules.Count; rules.Add(rule); }
        }
        return rules;
    }

    private static string Printable(char c) => c < ' ' ? $"\\x{(int)c:X2}" : c.ToString();

    private static bool IsWordChar(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-';

    private string ParseName(string what)
    {
        int start = _pos;
        while (!AtEnd && IsWordChar(_text[_pos])) _pos++;
        if (_pos == start)
            throw Error(AtEnd ? $"expecting {what}, found the end of the text" : $"expecting {what}, found '{Printable(Peek())}'");
        return _text[start.._pos];
    }

    private void SkipSpace(bool newlineOk)
    {
        while (!AtEnd)
        {
            char c = _text[_pos];
            if (c is ' ' or '\t') _pos++;
            else if (c == '#')
            {
                while (!AtEnd && _text[_pos] is not ('\r' or '\n')) _pos++;
            }
            else if (newlineOk && c is '\r' or '\n') _pos++;
            else break;
        }
    }

    private GbnfExpr ParseAlternatives(bool nested)
    {
        int start = _pos;
        var alternatives = new List<GbnfExpr> { ParseSequence(nested) };
        while (Peek() == '|')
        {
            _pos++;
            SkipSpace(newlineOk: true);
            alternatives.Add(ParseSequence(nested));
        }
        return alternatives.Count == 1 ? alternatives[0] : new GbnfChoice(start, alternatives.ToArray());
    }

    private GbnfExpr ParseSequence(bool nested)
    {
        int start = _pos;
        var items = new List<GbnfExpr>();
        while (!AtEnd)
        {
            char c = _text[_pos];
            int at = _pos;
            if (c == '"')
            {
                _pos++;
                var cps = new List<int>();
                while (Peek() != '"')
                {
                    if (AtEnd) throw Error("unterminated literal (no closing '\"')", at);
                    cps.Add(ParseChar());
                }
                _pos++;
                items.Add(new GbnfLiteral(at, cps.ToArray()));
            }
            else if (c == '[')
            {
                _pos++;
                bool negated = Peek() == '^';
                if (negated) _pos++;
                var ranges = new List<(int, int)>();
                while (Peek() != ']')
                {
                    if (AtEnd) throw Error("unterminated character class (no closing ']')", at);
                    int lo = ParseChar(), hi = lo;
                    if (Peek() == '-' && Peek(1) != ']')
                    {
                        _pos++;
                        if (AtEnd) throw Error("unterminated character class (no closing ']')", at);
                        int rangeAt = _pos;
                        hi = ParseChar();
                        if (hi < lo) throw Error($"character range U+{lo:X4}-U+{hi:X4} runs backwards", rangeAt);
                    }
                    ranges.Add((lo, hi));
                }
                _pos++;
                items.Add(new GbnfCharClass(at, ranges.ToArray(), negated));
            }
            else if (IsWordChar(c))
            {
                items.Add(new GbnfRuleRef(at, ParseName("a rule name")));
            }
            else if (c == '(')
            {
                if (++_depth > MaxNesting) throw Error($"parentheses nested deeper than the limit of {MaxNesting}");
                _pos++;
                SkipSpace(newlineOk: true);
                var inner = ParseAlternatives(nested: true);
                if (Peek() != ')') throw Error(AtEnd ? "expecting ')', found the end of the text" : $"expecting ')', found '{Printable(Peek())}'");
                _pos++;
                _depth--;
                items.Add(inner);
            }
            else if (c == '.')
            {
                _pos++;
                items.Add(new GbnfCharClass(at, [], Negated: true));
            }
            else if (c is '*' or '+' or '?' or '{')
            {
                if (items.Count == 0) throw Error($"expecting an item before the repetition '{c}'");
                int stacked = 0;
                for (var e = items[^1]; e is GbnfRepeat r; e = r.Item) stacked++;
                if (stacked >= MaxStackedRepetitions)
                    throw Error($"more than {MaxStackedRepetitions} repetition operators in a row on one item");
                var (min, max) = ParseRepetition();
                items[^1] = new GbnfRepeat(at, items[^1], min, max);
                continue; // ParseRepetition already skipped the space after it
            }
            else break;
            SkipSpace(nested);
        }
        return items.Count == 1 ? items[0] : new GbnfSequence(start, items.ToArray());
    }

    private (int Min, int Max) ParseRepetition()
    {
        char c = _text[_pos++];
        bool nested = _depth > 0;
        if (c != '{')
        {
            SkipSpace(nested);
            return c switch { '*' => (0, -1), '+' => (1, -1), _ => (0, 1) };
        }
        SkipSpace(nested);
        int min = ParseInt(), max;
        SkipSpace(nested);
        if (Peek() == '}') max = min;
        else if (Peek() == ',')
        {
            _pos++;
            SkipSpace(nested);
            max = char.IsAsciiDigit(Peek()) ? ParseInt() : -1;
            SkipSpace(nested);
            if (Peek() != '}') throw Error("expecting '}' to close the repetition bounds");
        }
        else throw Error("expecting ',' or '}' in the repetition bounds");
        _pos++;
        SkipSpace(nested);
        if (max != -1 && max < min) throw Error($"repetition {{{min},{max}}} has its maximum below its minimum");
        return (min, max);
    }

    private int ParseInt()
    {
        int start = _pos;
        while (char.IsAsciiDigit(Peek())) _pos++;
        if (_pos == start) throw Error("expecting a number in the repetition bounds");
        if (_pos - start > 9 || int.Parse(_text.AsSpan(start, _pos - start), CultureInfo.InvariantCulture) > MaxRepetition)
            throw Error($"repetition bound {_text[start.._pos]} exceeds the limit of {MaxRepetition}", start);
        return int.Parse(_text.AsSpan(start, _pos - start), CultureInfo.InvariantCulture);
    }

    private int ParseChar()
    {
        int at = _pos;
        char c = _text[_pos];
        if (c == '\\')
        {
            char e = Peek(1);
            _pos += 2;
            switch (e)
            {
                case 'x': return ParseHex(2, at);
                case 'u': return ParseHex(4, at);
                case 'U': return ParseHex(8, at);
                case 't': return '\t';
                case 'r': return '\r';
                case 'n': return '\n';
                case '\\' or '"' or '[' or ']': return e;
                default:
                    _pos = at;
                    throw Error(e == '\0' && _pos + 1 >= _text.Length ? "unexpected end of the text after '\\'" : $"unknown escape '\\{Printable(e)}'");
            }
        }
        if (char.IsHighSurrogate(c) && char.IsLowSurrogate(Peek(1)))
        {
            _pos += 2;
            return char.ConvertToUtf32(c, _text[_pos - 1]);
        }
        if (char.IsSurrogate(c)) throw Error("unpaired UTF-16 surrogate in the grammar text");
        _pos++;
        return c;
    }

    private int ParseHex(int digits, int at)
    {
        long value = 0;
        for (int i = 0; i < digits; i++)
        {
            int d = HexDigit(Peek());
            if (d < 0) throw Error($"expecting {digits} hex digits in the escape", at);
            value = value * 16 + d;
            _pos++;
        }
        if (value > 0x10FFFF) throw Error($"escape names U+{value:X}, beyond U+10FFFF", at);
        return (int)value;
    }

    private static int HexDigit(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
