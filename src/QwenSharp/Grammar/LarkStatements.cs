using System.Globalization;
using System.Text;

namespace QwenSharp.Grammar;

/// <summary>
/// Parses Lark grammar text into statements. A statement starts at a line that begins with a definition
/// ("name:", "?name:", "!name:", "NAME.2:") or a directive ('%'); other lines continue the one before (Lark's
/// "| alternative" continuation lines). "//" starts a comment.
/// </summary>
internal sealed class LarkStatements
{
    private readonly string _text;
    private readonly int _line;
    private int _pos;

    private LarkStatements(string text, int line)
    {
        _text = text;
        _line = line;
    }

    public static bool IsTerminalName(string name) => name.TrimStart('_').Length > 0 && name.TrimStart('_').All(c => !char.IsAsciiLetterLower(c));

    public static List<LarkStatement> Parse(string lark)
    {
        var chunks = new List<(int Line, StringBuilder Text)>();
        var lines = lark.Replace("\r\n", "\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = StripComment(lines[i]);
            if (line.Trim().Length == 0) continue;
            string trimmed = line.TrimStart();
            bool starts = trimmed.StartsWith('%') || IsDefinitionStart(trimmed);
            if (starts || chunks.Count == 0) chunks.Add((i + 1, new StringBuilder(line)));
            else chunks[^1].Text.Append('\n').Append(line);
        }
        var statements = new List<LarkStatement>();
        foreach (var (line, text) in chunks) statements.Add(new LarkStatements(text.ToString(), line).Statement());
        return statements;
    }

    private static bool IsDefinitionStart(string line)
    {
        int i = 0;
        if (i < line.Length && line[i] is '?' or '!') i++;
        int start = i;
        while (i < line.Length && (char.IsAsciiLetterOrDigit(line[i]) || line[i] == '_')) i++;
        if (i == start) return false;
        if (i < line.Length && line[i] == '.') { i++; while (i < line.Length && (char.IsAsciiDigit(line[i]) || line[i] == '-')) i++; }
        while (i < line.Length && line[i] is ' ' or '\t') i++;
        return i < line.Length && line[i] == ':';
    }

    // "//" outside quotes and regexes starts a comment.
    private static string StripComment(string line)
    {
        char quote = '\0';
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quote != '\0')
            {
                if (c == '\\') i++;
                else if (c == quote) quote = '\0';
            }
            else if (c is '"' or '/' && !(c == '/' && i + 1 < line.Length && line[i + 1] == '/')) quote = c;
            else if (c == '/' && i + 1 < line.Length && line[i + 1] == '/') return line[..i];
        }
        return line;
    }

    private GrammarException Error(string what) => new($"Lark grammar, line {_line}: {what}.");

    private LarkStatement Statement()
    {
        SkipSpace();
        if (Peek('%'))
        {
            _pos++;
            string directive = Name();
            SkipSpace();
            switch (directive)
            {
                case "import":
                    return Import();
                case "ignore":
                    {
                        var names = new List<string>();
                        if (Peek('(')) { _pos++; names.AddRange(NameList(')')); }
                        else names.Add(Name());
                        ExpectEnd();
                        return names.Count == 1
                            ? new LarkStatement(LarkStatementKind.Ignore, _line, names[0], new LarkNode.Sequence([]), [])
                            : throw Error("%ignore of a list is not supported; write one %ignore per terminal");
                    }
                default:
                    throw Error($"the directive %{directive} is not supported (%import and %ignore are)");
            }
        }
        if (Peek('?') || Peek('!')) _pos++;
        string name = Name();
        if (Peek('.'))
        {
            _pos++;
            while (_pos < _text.Length && (char.IsAsciiDigit(_text[_pos]) || _text[_pos] == '-')) _pos++;
        }
        if (Peek('{')) throw Error($"the template '{name}{{...}}' is not supported");
        SkipSpace();
        if (!Peek(':')) throw Error($"expected ':' after '{name}'");
        _pos++;
        var body = Alternatives();
        ExpectEnd();
        return new LarkStatement(LarkStatementKind.Definition, _line, name, body, []);
    }

    private LarkStatement Import()
    {
        string path = DottedName();
        var imports = new List<(string, string)>();
        SkipSpace();
        if (path.StartsWith("common.", StringComparison.Ordinal))
        {
            string source = path["common.".Length..];
            string alias = source;
            SkipSpace();
            if (Peek('-') && _pos + 1 < _text.Length && _text[_pos + 1] == '>')
            {
                _pos += 2;
                SkipSpace();
                alias = Name();
            }
            imports.Add((source, alias));
        }
        else if (path == "common" && Peek('('))
        {
            _pos++;
            foreach (var n in NameList(')')) imports.Add((n, n));
        }
        else throw Error($"%import {path} is not supported (only Lark's common terminals are)");
        ExpectEnd();
        return new LarkStatement(LarkStatementKind.Import, _line, "", new LarkNode.Sequence([]), imports);
    }

    private List<string> NameList(char close)
    {
        var names = new List<string>();
        while (true)
        {
            SkipSpace();
            names.Add(Name());
            SkipSpace();
            if (Peek(',')) { _pos++; continue; }
            if (Peek(close)) { _pos++; return names; }
            throw Error($"expected ',' or '{close}' in a name list");
        }
    }

    private LarkNode Alternatives()
    {
        var items = new List<LarkNode> { Sequence() };
        while (true)
        {
            SkipSpace();
            if (!Peek('|')) break;
            _pos++;
            items.Add(Sequence());
        }
        return items.Count == 1 ? items[0] : new LarkNode.Alternatives(items);
    }

    private LarkNode Sequence()
    {
        var items = new List<LarkNode>();
        while (true)
        {
            SkipSpace();
            if (_pos >= _text.Length || Peek('|') || Peek(')') || Peek(']')) break;
            if (Peek('-') && _pos + 1 < _text.Length && _text[_pos + 1] == '>')
            {
                // An alias names the tree node; the language is the same.
                _pos += 2;
                SkipSpace();
                Name();
                continue;
            }
            items.Add(Quantified(Atom()));
        }
        return items.Count == 1 ? items[0] : new LarkNode.Sequence(items);
    }

    private LarkNode Quantified(LarkNode atom)
    {
        SkipSpace(newlines: false);
        if (Peek('?')) { _pos++; return new LarkNode.Repeat(atom, 0, 1); }
        if (Peek('*')) { _pos++; return new LarkNode.Repeat(atom, 0, null); }
        if (Peek('+')) { _pos++; return new LarkNode.Repeat(atom, 1, null); }
        if (Peek('~'))
        {
            _pos++;
            SkipSpace();
            int min = Number();
            int max = min;
            if (Peek('.') && _pos + 1 < _text.Length && _text[_pos + 1] == '.') { _pos += 2; max = Number(); }
            if (max < min) throw Error($"repetition ~ {min}..{max} has its maximum below its minimum");
            return new LarkNode.Repeat(atom, min, max);
        }
        return atom;
    }

    private LarkNode Atom()
    {
        char c = _text[_pos];
        if (c == '(') { _pos++; var inner = Alternatives(); Expect(')'); return inner; }
        if (c == '[') { _pos++; var inner = Alternatives(); Expect(']'); return new LarkNode.Repeat(inner, 0, 1); }
        if (c == '"')
        {
            string text = Literal();
            SkipSpace(newlines: false);
            if (Peek('.') && _pos + 1 < _text.Length && _text[_pos + 1] == '.')
            {
                _pos += 2;
                SkipSpace();
                string to = Literal();
                var a = GbnfText.CodePoints(text).ToArray();
                var b = GbnfText.CodePoints(to).ToArray();
                if (a.Length != 1 || b.Length != 1 || b[0] < a[0]) throw Error($"the range \"{text}\"..\"{to}\" is not a range of single characters");
                return new LarkNode.Range(a[0], b[0]);
            }
            return new LarkNode.Literal(text);
        }
        if (c == '/') return Regex();
        if (char.IsAsciiLetter(c) || c == '_')
        {
            string name = Name();
            if (Peek('{')) throw Error($"the template use '{name}{{...}}' is not supported");
            return new LarkNode.Reference(name);
        }
        throw Error($"unexpected '{c}'");
    }

    private string Literal()
    {
        _pos++; // opening quote
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length || _text[_pos] == '\n') throw Error("a string literal is not closed");
            char c = _text[_pos++];
            if (c == '"') break;
            if (c != '\\') { sb.Append(c); continue; }
            if (_pos >= _text.Length) throw Error("a string literal ends in a backslash");
            char e = _text[_pos++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '\\': sb.Append('\\'); break;
                case '"': sb.Append('"'); break;
                case '\'': sb.Append('\''); break;
                case 'x' or 'u':
                    {
                        int digits = e == 'x' ? 2 : 4;
                        if (_pos + digits > _text.Length || !int.TryParse(_text.AsSpan(_pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int v))
                            throw Error($"malformed '\\{e}' escape in a string literal");
                        _pos += digits;
                        sb.Append((char)v);
                        break;
                    }
                default: sb.Append('\\').Append(e); break;
            }
        }
        if (Peek('i')) throw Error("case-insensitive literals (\"...\"i) are not supported");
        return sb.ToString();
    }

    private LarkNode Regex()
    {
        _pos++;
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length || _text[_pos] == '\n') throw Error("a /regex/ is not closed");
            char c = _text[_pos++];
            if (c == '/') break;
            if (c == '\\' && _pos < _text.Length && _text[_pos] == '/') { sb.Append('/'); _pos++; continue; }
            sb.Append(c);
            if (c == '\\' && _pos < _text.Length) sb.Append(_text[_pos++]);
        }
        if (_pos < _text.Length && char.IsAsciiLetterLower(_text[_pos]))
            throw Error($"regex flag '{_text[_pos]}' is not supported");
        return new LarkNode.Regex(sb.ToString());
    }

    private string Name()
    {
        int start = _pos;
        while (_pos < _text.Length && (char.IsAsciiLetterOrDigit(_text[_pos]) || _text[_pos] == '_')) _pos++;
        if (_pos == start) throw Error(_pos < _text.Length ? $"expected a name at '{_text[_pos]}'" : "expected a name at the end");
        return _text[start.._pos];
    }

    private string DottedName()
    {
        var sb = new StringBuilder(Name());
        while (Peek('.')) { _pos++; sb.Append('.').Append(Name()); }
        return sb.ToString();
    }

    private int Number()
    {
        int start = _pos;
        while (_pos < _text.Length && char.IsAsciiDigit(_text[_pos])) _pos++;
        if (_pos == start || !int.TryParse(_text.AsSpan(start, _pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out int v))
            throw Error("expected a repetition count after '~'");
        return v;
    }

    private bool Peek(char c) => _pos < _text.Length && _text[_pos] == c;

    private void Expect(char c)
    {
        SkipSpace();
        if (!Peek(c)) throw Error($"expected '{c}'");
        _pos++;
    }

    private void ExpectEnd()
    {
        SkipSpace();
        if (_pos < _text.Length) throw Error($"unexpected '{_text[_pos]}'");
    }

    private void SkipSpace(bool newlines = true)
    {
        while (_pos < _text.Length && (_text[_pos] is ' ' or '\t' || (newlines && _text[_pos] == '\n'))) _pos++;
    }
}
