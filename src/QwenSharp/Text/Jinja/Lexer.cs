using System.Globalization;
using System.Text;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// Splits a template into tokens the way Jinja2's lexer (jinja2/lexer.py, 3.1) does under Hugging Face's
/// settings (<c>trim_blocks=True</c>, <c>lstrip_blocks=True</c>, <c>keep_trailing_newline=False</c>):
/// newlines are normalized to \n and one trailing newline is dropped; <c>{%-</c>/<c>-%}</c> (and the
/// <c>{{</c>/<c>{#</c> forms) strip all whitespace on that side; a block or comment tag eats the one \n that
/// follows it; whitespace between a line start and a block or comment tag is removed unless the tag
/// starts with <c>{%+</c>.
/// </summary>
internal sealed class Lexer
{
    private static readonly string[] Operators =
        ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"];

    private readonly string _src;
    private readonly int[] _lineStarts;
    private readonly List<Token> _tokens = new();
    private int _pos;
    private bool _lineStarting = true;

    private Lexer(string source)
    {
        // Jinja2 splits on \r\n, \r and \n, drops one empty last line, and joins with \n.
        string s = source.Replace("\r\n", "\n").Replace('\r', '\n');
        if (s.EndsWith('\n')) s = s[..^1];
        _src = s;
        var starts = new List<int> { 0 };
        for (int i = 0; i < s.Length; i++)
            if (s[i] == '\n') starts.Add(i + 1);
        _lineStarts = starts.ToArray();
    }

    public static List<Token> Tokenize(string source)
    {
        var lexer = new Lexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    private int LineAt(int pos)
    {
        int i = Array.BinarySearch(_lineStarts, pos);
        return (i >= 0 ? i : ~i - 1) + 1;
    }

    private void Run()
    {
        while (_pos < _src.Length)
        {
            int tag = FindTagStart(_pos);
            if (tag < 0)
            {
                _tokens.Add(new Token(TokenKind.Data, _src[_pos..], LineAt(_pos)));
                _pos = _src.Length;
                break;
            }
            char kind = _src[tag + 1];
            char sign = tag + 2 < _src.Length && _src[tag + 2] is '-' or '+' ? _src[tag + 2] : '\0';
            string text = _src[_pos..tag];
            if (sign == '-')
                text = PyString.RStrip(text);
            else if (sign != '+' && kind != '{')
            {
                // lstrip_blocks: only whitespace between the last line start and the tag is removed.
                int lpos = text.LastIndexOf('\n') + 1;
                if ((lpos > 0 || _lineStarting) && lpos < text.Length && PyString.IsAllSpace(text.AsSpan(lpos)))
                    text = text[..lpos];
            }
            if (text.Length > 0) _tokens.Add(new Token(TokenKind.Data, text, LineAt(_pos)));
            int afterSign = tag + 2 + (sign != '\0' ? 1 : 0);
            if (kind == '#') LexComment(tag, afterSign);
            else if (kind == '%' && TryLexRaw(tag, afterSign)) { }
            else LexTag(kind, tag, afterSign);
            _lineStarting = _pos > 0 && _src[_pos - 1] == '\n';
        }
        _tokens.Add(new Token(TokenKind.End, "", LineAt(_src.Length)));
    }

    private int FindTagStart(int from)
    {
        for (int i = _src.IndexOf('{', from); i >= 0 && i + 1 < _src.Length; i = _src.IndexOf('{', i + 1))
            if (_src[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    private void LexComment(int tag, int from)
    {
        int k = _src.IndexOf("#}", from, StringComparison.Ordinal);
        if (k < 0) throw TemplateException.Syntax("missing end of comment tag '#}'", LineAt(tag));
        char before = k - 1 >= from ? _src[k - 1] : '\0';
        _pos = k + 2;
        if (before == '-') SkipWhitespace();
        else if (before != '+') SkipTrimNewline();
    }

    /// <summary>{% raw %}…{% endraw %}: the text in between is data, untouched. The opening tag does not
    /// trim the following newline (Jinja2's raw_begin rule has no trim_blocks suffix).</summary>
    private bool TryLexRaw(int tag, int from)
    {
        int p = SkipSpaces(from);
        if (string.CompareOrdinal(_src, p, "raw", 0, 3) != 0) return false;
        p = SkipSpaces(p + 3);
        if (string.CompareOrdinal(_src, p, "-%}", 0, 3) == 0) p = SkipSpaces(p + 3);
        else if (string.CompareOrdinal(_src, p, "%}", 0, 2) == 0) p += 2;
        else return false;
        for (int i = _src.IndexOf("{%", p, StringComparison.Ordinal); i >= 0; i = _src.IndexOf("{%", i + 2, StringComparison.Ordinal))
        {
            char sign = i + 2 < _src.Length && _src[i + 2] is '-' or '+' ? _src[i + 2] : '\0';
            int q = SkipSpaces(i + 2 + (sign != '\0' ? 1 : 0));
            if (string.CompareOrdinal(_src, q, "endraw", 0, 6) != 0) continue;
            q = SkipSpaces(q + 6);
            int end;
            bool trimAll = false, trimNewline = false;
            if (string.CompareOrdinal(_src, q, "+%}", 0, 3) == 0) end = q + 3;
            else if (string.CompareOrdinal(_src, q, "-%}", 0, 3) == 0) { end = q + 3; trimAll = true; }
            else if (string.CompareOrdinal(_src, q, "%}", 0, 2) == 0) { end = q + 2; trimNewline = true; }
            else continue;
            string text = _src[p..i];
            if (sign == '-') text = PyString.RStrip(text);
            else if (sign != '+')
            {
                int lpos = text.LastIndexOf('\n') + 1;
                if (lpos > 0 && lpos < text.Length && PyString.IsAllSpace(text.AsSpan(lpos))) text = text[..lpos];
            }
            if (text.Length > 0) _tokens.Add(new Token(TokenKind.Data, text, LineAt(p)));
            _pos = end;
            if (trimAll) SkipWhitespace();
            else if (trimNewline) SkipTrimNewline();
            return true;
        }
        throw TemplateException.Syntax("missing end of raw directive '{% endraw %}'", LineAt(tag));
    }

    private int SkipSpaces(int p)
    {
        while (p < _src.Length && PyString.IsSpace(_src[p])) p++;
        return p;
    }

    private void SkipWhitespace() => _pos = SkipSpaces(_pos);

    private void SkipTrimNewline()
    {
        if (_pos < _src.Length && _src[_pos] == '\n') _pos++;
    }

    private void LexTag(char kind, int tag, int from)
    {
        bool block = kind == '%';
        _tokens.Add(new Token(block ? TokenKind.BlockBegin : TokenKind.VariableBegin, block ? "{%" : "{{", LineAt(tag)));
        var balance = new Stack<char>();
        _pos = from;
        while (true)
        {
            if (balance.Count == 0 && TryTagEnd(block)) return;
            if (_pos < _src.Length && PyString.IsSpace(_src[_pos]))
            {
                SkipWhitespace();
                continue;
            }
            if (_pos >= _src.Length)
                throw TemplateException.Syntax($"unexpected end of template, expected '{(block ? "%}" : "}}")}' to close the tag opened", LineAt(tag));
            int line = LineAt(_pos);
            char c = _src[_pos];
            if (char.IsAsciiDigit(c)) LexNumber(line);
            else if (c == '_' || char.IsLetter(c)) LexName(line);
            else if (c is '\'' or '"') LexString(line);
            else LexOperator(line, balance);
        }
    }

    private bool TryTagEnd(bool block)
    {
        if (block)
        {
            if (string.CompareOrdinal(_src, _pos, "+%}", 0, 3) == 0) { Emit(TokenKind.BlockEnd, "%}", 3); return true; }
            if (string.CompareOrdinal(_src, _pos, "-%}", 0, 3) == 0) { Emit(TokenKind.BlockEnd, "%}", 3); SkipWhitespace(); return true; }
            if (string.CompareOrdinal(_src, _pos, "%}", 0, 2) == 0) { Emit(TokenKind.BlockEnd, "%}", 2); SkipTrimNewline(); return true; }
        }
        else
        {
            if (string.CompareOrdinal(_src, _pos, "-}}", 0, 3) == 0) { Emit(TokenKind.VariableEnd, "}}", 3); SkipWhitespace(); return true; }
            if (string.CompareOrdinal(_src, _pos, "}}", 0, 2) == 0) { Emit(TokenKind.VariableEnd, "}}", 2); return true; }
        }
        return false;
    }

    private void Emit(TokenKind kind, string text, int length)
    {
        _tokens.Add(new Token(kind, text, LineAt(_pos)));
        _pos += length;
    }

    private void LexName(int line)
    {
        int start = _pos;
        while (_pos < _src.Length && (_src[_pos] == '_' || char.IsLetterOrDigit(_src[_pos]))) _pos++;
        _tokens.Add(new Token(TokenKind.Name, _src[start.._pos], line));
    }

    /// <summary>Integers (decimal with '_' separators, 0x/0o/0b) and floats (1.5, 1e5, 1.5e-3) as Jinja2's
    /// integer_re/float_re read them.</summary>
    private void LexNumber(int line)
    {
        int start = _pos;
        if (_src[_pos] == '0' && _pos + 1 < _src.Length && char.ToLowerInvariant(_src[_pos + 1]) is 'x' or 'o' or 'b')
        {
            char radixChar = char.ToLowerInvariant(_src[_pos + 1]);
            int radix = radixChar == 'x' ? 16 : radixChar == 'o' ? 8 : 2;
            _pos += 2;
            long v = 0;
            while (_pos < _src.Length && (_src[_pos] == '_' || Uri.IsHexDigit(_src[_pos]) && Convert.ToInt32(_src[_pos].ToString(), 16) < radix))
            {
                if (_src[_pos] != '_')
                {
                    int digit = Convert.ToInt32(_src[_pos].ToString(), 16);
                    if (v > (long.MaxValue - digit) / radix) throw TemplateException.Unsupported("an integer literal beyond 64 bits", line);
                    v = v * radix + digit;
                }
                _pos++;
            }
            _tokens.Add(new Token(TokenKind.Integer, v.ToString(CultureInfo.InvariantCulture), line));
            return;
        }
        int p = SkipDigits(_pos);
        bool isFloat = false;
        if (p + 1 < _src.Length && _src[p] == '.' && char.IsAsciiDigit(_src[p + 1]))
        {
            p = SkipDigits(p + 1);
            isFloat = true;
        }
        if (p < _src.Length && _src[p] is 'e' or 'E')
        {
            int q = p + 1;
            if (q < _src.Length && _src[q] is '+' or '-') q++;
            if (q < _src.Length && char.IsAsciiDigit(_src[q]))
            {
                p = SkipDigits(q);
                isFloat = true;
            }
        }
        _pos = p;
        string text = _src[start..p].Replace("_", "");
        _tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, text, line));
    }

    private int SkipDigits(int p)
    {
        while (p < _src.Length && (char.IsAsciiDigit(_src[p]) || _src[p] == '_' && p + 1 < _src.Length && char.IsAsciiDigit(_src[p + 1]))) p++;
        return p;
    }

    private void LexOperator(int line, Stack<char> balance)
    {
        foreach (string op in Operators)
        {
            if (string.CompareOrdinal(_src, _pos, op, 0, op.Length) != 0) continue;
            switch (op)
            {
                case "(": balance.Push(')'); break;
                case "[": balance.Push(']'); break;
                case "{": balance.Push('}'); break;
                case ")" or "]" or "}":
                    if (balance.Count == 0) throw TemplateException.Syntax($"unexpected '{op}'", line);
                    char expected = balance.Pop();
                    if (expected != op[0]) throw TemplateException.Syntax($"unexpected '{op}', expected '{expected}'", line);
                    break;
            }
            _tokens.Add(new Token(TokenKind.Operator, op, line));
            _pos += op.Length;
            return;
        }
        throw TemplateException.Syntax($"unexpected character '{_src[_pos]}'", line);
    }

    /// <summary>A quoted string, unescaped as Jinja2 does it: Python's "unicode-escape" codec over the text.</summary>
    private void LexString(int line)
    {
        char quote = _src[_pos];
        var sb = new StringBuilder();
        int p = _pos + 1;
        while (true)
        {
            if (p >= _src.Length) throw TemplateException.Syntax("unterminated string literal", line);
            char c = _src[p];
            if (c == quote) break;
            if (c != '\\')
            {
                sb.Append(c);
                p++;
                continue;
            }
            if (p + 1 >= _src.Length) throw TemplateException.Syntax("unterminated string literal", line);
            char e = _src[p + 1];
            p += 2;
            switch (e)
            {
                case '\n': break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'v': sb.Append('\v'); break;
                case >= '0' and <= '7':
                {
                    int v = e - '0', n = 1;
                    while (n < 3 && p < _src.Length && _src[p] is >= '0' and <= '7') { v = v * 8 + (_src[p] - '0'); p++; n++; }
                    sb.Append((char)v);
                    break;
                }
                case 'x': p = AppendHexEscape(sb, p, 2, line); break;
                case 'u': p = AppendHexEscape(sb, p, 4, line); break;
                case 'U': p = AppendHexEscape(sb, p, 8, line); break;
                case 'N': throw TemplateException.Unsupported("named Unicode escape \\N{...} in a string literal", line);
                default: sb.Append('\\').Append(e); break;
            }
        }
        _pos = p + 1;
        _tokens.Add(new Token(TokenKind.String, sb.ToString(), line));
    }

    private int AppendHexEscape(StringBuilder sb, int p, int digits, int line)
    {
        if (p + digits > _src.Length || !int.TryParse(_src.AsSpan(p, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int v)
            || _src.AsSpan(p, digits).ContainsAny('+', '-'))
            throw TemplateException.Syntax($"truncated \\{(digits == 2 ? 'x' : digits == 4 ? 'u' : 'U')} escape in a string literal", line);
        if (v > 0x10FFFF) throw TemplateException.Syntax("illegal Unicode character in a \\U escape", line);
        if (v < 0x10000) sb.Append((char)v);
        else sb.Append(char.ConvertFromUtf32(v));
        return p + digits;
    }
}
