using System.Globalization;
using System.Text;
using QwenSharp.Text.Jinja;

namespace QwenSharp.Text.ToolCalls;

/// <summary>
/// Reads one tool call's JSON a character at a time, accepting exactly what Python's <c>json.loads</c> accepts
/// (the C scanner: whitespace is space, tab, LF and CR; NaN, Infinity and -Infinity are numbers; control
/// characters inside strings are refused; an integer may have at most 4300 digits; a repeated key keeps its
/// first place and its last value), and writes the value of the top-level <c>"arguments"</c> key as
/// <c>json.dumps(value, ensure_ascii=False)</c> prints it while it arrives, so a stream can send it in pieces.
/// </summary>
internal sealed class PythonJsonReader
{
    /// <summary>How deep values may nest. Python's decoder recurses and fails with RecursionError near its
    /// recursion limit (1000 frames, less what the caller already uses); the exact figure is not reproducible.</summary>
    public const int MaxDepth = 900;

    private enum State { Value, KeyOrClose, Key, Colon, AfterValue, String, Escape, Unicode, Number, Literal, Done, Failed }

    private sealed class Frame(bool isObject, int argumentsDepth)
    {
        public readonly bool IsObject = isObject;
        public readonly OrderedDictionary<string, object?> Object = new(StringComparer.Ordinal);
        public readonly List<object?> Array = [];
        public string? Key;
        /// <summary>How deep inside the arguments value this container lies (0: outside; its text is written when above).</summary>
        public readonly int ArgumentsDepth = argumentsDepth;
    }

    private readonly List<Frame> _stack = [];
    private readonly StringBuilder _token = new();
    private readonly StringBuilder _arguments = new();
    private State _state = State.Value;
    private bool _stringIsKey;
    private int _unicodeDigits;
    private int _unicodeValue;
    private string _literal = "";
    private object? _root;
    /// <summary>True from the top-level "arguments" key to the start of its value (whose text is then written).</summary>
    private bool _pendingArgumentsValue;
    /// <summary>Set right after '[' so that ']' may close an empty array where a value is otherwise expected.</summary>
    private bool _arrayJustOpened;

    /// <summary>Why the text is not valid JSON, or null while it still may be.</summary>
    public string? Error { get; private set; }

    /// <summary>Whether a whole value has been read (only whitespace may follow).</summary>
    public bool IsComplete => _state == State.Done;

    /// <summary>The top-level object's "name" once its string value is complete (the last one when repeated);
    /// null when absent so far or not a string.</summary>
    public string? Name { get; private set; }

    /// <summary>Whether the top-level object has reached its "arguments" key.</summary>
    public bool HasArgumentsKey { get; private set; }

    /// <summary>How many times the top-level "arguments" key appeared (a second one replaces the first).</summary>
    public int ArgumentsKeyCount { get; private set; }

    /// <summary>The arguments value written so far as json.dumps prints it (restarted by a repeated key).</summary>
    public StringBuilder ArgumentsText => _arguments;

    /// <summary>The value read, once <see cref="IsComplete"/>: an OrderedDictionary (Python's dict: a repeated key
    /// keeps its place and takes the new value), List, string, bool, null,
    /// or <see cref="PyNumber"/>.</summary>
    public object? Root => _root;

    public void Feed(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (_state == State.Failed) return;
            Step(c);
        }
    }

    /// <summary>Ends the text: a number or literal still open is completed (Python reads to the end).</summary>
    public void End()
    {
        if (_state == State.Number && !CompleteNumber()) return;
        if (_state == State.Literal) Fail("the JSON ends inside a literal");
        else if (_state is not (State.Done or State.Failed)) Fail("the JSON ends before its value is complete");
    }

    private void Fail(string why)
    {
        Error ??= why;
        _state = State.Failed;
    }

    private static bool IsWhitespace(char c) => c is ' ' or '\t' or '\n' or '\r';

    private bool InArguments => _stack.Count > 0 && _stack[^1].ArgumentsDepth > 0 || _pendingArgumentsValue;

    private void Write(string s)
    {
        if (InArguments) _arguments.Append(s);
    }

    private void Write(char c)
    {
        if (InArguments) _arguments.Append(c);
    }

    private void Step(char c)
    {
        switch (_state)
        {
            case State.Value:
                if (IsWhitespace(c)) return;
                StartValue(c);
                return;
            case State.KeyOrClose:
                if (IsWhitespace(c)) return;
                if (c == '}') { CloseContainer(); return; }
                if (c == '"') { StartString(isKey: true); return; }
                Fail("expected a property name enclosed in double quotes");
                return;
            case State.Key:
                if (IsWhitespace(c)) return;
                if (c == '"') { StartString(isKey: true); return; }
                Fail("expected a property name enclosed in double quotes");
                return;
            case State.Colon:
                if (IsWhitespace(c)) return;
                if (c != ':') { Fail("expected ':' delimiter"); return; }
                if (_stack[^1].ArgumentsDepth > 0) _arguments.Append(": ");
                _state = State.Value;
                return;
            case State.AfterValue:
                if (IsWhitespace(c)) return;
                AfterValue(c);
                return;
            case State.String:
                if (c == '"') { EndString(); return; }
                if (c == '\\') { _state = State.Escape; return; }
                if (c < 0x20) { Fail("a control character inside a string"); return; }
                AppendStringChar(c);
                return;
            case State.Escape:
                char? unescaped = c switch
                {
                    '"' => '"', '\\' => '\\', '/' => '/', 'b' => '\b', 'f' => '\f', 'n' => '\n', 'r' => '\r', 't' => '\t',
                    _ => null,
                };
                if (unescaped is { } u) { AppendStringChar(u); _state = State.String; return; }
                if (c == 'u') { _unicodeDigits = 0; _unicodeValue = 0; _state = State.Unicode; return; }
                Fail("an invalid escape in a string");
                return;
            case State.Unicode:
                if (!char.IsAsciiHexDigit(c)) { Fail("an invalid \\uXXXX escape"); return; }
                _unicodeValue = _unicodeValue * 16 + Convert.ToInt32(c.ToString(), 16);
                if (++_unicodeDigits == 4)
                {
                    // A surrogate pair written as two escapes gives the same two UTF-16 units as Python's joined code point.
                    AppendStringChar((char)_unicodeValue);
                    _state = State.String;
                }
                return;
            case State.Number:
                if (c == 'I' && _token.Length == 1 && _token[0] == '-') { _literal = "-Infinity"; _token.Append(c); _state = State.Literal; return; }
                if (char.IsAsciiDigit(c) || c is '.' or 'e' or 'E' or '+' or '-') { _token.Append(c); return; }
                if (!CompleteNumber()) return;
                Step(c);
                return;
            case State.Literal:
                _token.Append(c);
                if (!_literal.StartsWith(_token.ToString(), StringComparison.Ordinal)) { Fail("an invalid literal"); return; }
                if (_token.Length == _literal.Length) CompleteLiteral();
                return;
            case State.Done:
                if (!IsWhitespace(c)) Fail("extra data after the JSON value");
                return;
        }
    }

    private void StartValue(char c)
    {
        if (_stack.Count >= MaxDepth && c is '{' or '[') { Fail($"values nested deeper than {MaxDepth} levels"); return; }
        switch (c)
        {
            case '{':
            case '[':
                _stack.Add(new Frame(c == '{', InArguments ? (_stack.Count > 0 ? _stack[^1].ArgumentsDepth : 0) + 1 : 0));
                _pendingArgumentsValue = false;
                Write(c);
                _state = c == '{' ? State.KeyOrClose : State.Value;
                _arrayJustOpened = c == '[';
                return;
            case '"':
                StartString(isKey: false);
                return;
            case '-':
            case >= '0' and <= '9':
                _token.Clear().Append(c);
                _state = State.Number;
                return;
            case 't': StartLiteral("true", c); return;
            case 'f': StartLiteral("false", c); return;
            case 'n': StartLiteral("null", c); return;
            case 'N': StartLiteral("NaN", c); return;
            case 'I': StartLiteral("Infinity", c); return;
            case ']' when _arrayJustOpened:
                CloseContainer();
                return;
            default:
                Fail("expected a value");
                return;
        }
    }

    private void StartLiteral(string literal, char first)
    {
        _arrayJustOpened = false;
        _literal = literal;
        _token.Clear().Append(first);
        _state = State.Literal;
        if (literal.Length == 1) CompleteLiteral();
    }

    private void CompleteLiteral()
    {
        object? value = _literal switch
        {
            "true" => true,
            "false" => false,
            "null" => null,
            _ => new PyNumber(_literal),
        };
        Write(_literal);
        CompleteValue(value);
    }

    private bool CompleteNumber()
    {
        string text = _token.ToString();
        if (text == "-") { Fail("expected a value"); return false; }
        var number = PyNumber.Parse(text, out string? error);
        if (number == null) { Fail(error!); return false; }
        Write(number.Text);
        CompleteValue(number);
        return true;
    }

    private readonly StringBuilder _string = new();

    private void StartString(bool isKey)
    {
        _arrayJustOpened = false;
        _stringIsKey = isKey;
        _string.Clear();
        Write('"');
        _state = State.String;
    }

    private void AppendStringChar(char c)
    {
        _string.Append(c);
        if (InArguments) PythonJsonWriter.AppendEscaped(_arguments, c);
    }

    private void EndString()
    {
        string s = _string.ToString();
        Write('"');
        if (_stringIsKey)
        {
            var frame = _stack[^1];
            frame.Key = s;
            if (_stack.Count == 1 && s == "arguments")
            {
                HasArgumentsKey = true;
                if (++ArgumentsKeyCount > 1) _arguments.Clear();
                _pendingArgumentsValue = true;
            }
            _state = State.Colon;
            return;
        }
        CompleteValue(s);
    }

    private void CompleteValue(object? value)
    {
        _arrayJustOpened = false;
        _pendingArgumentsValue = false;
        if (_stack.Count == 0)
        {
            _root = value;
            _state = State.Done;
            return;
        }
        var frame = _stack[^1];
        if (frame.IsObject)
        {
            frame.Object[frame.Key!] = value;
            if (_stack.Count == 1 && frame.Key == "name")
            {
                Name = value as string;
            }
        }
        else frame.Array.Add(value);
        _state = State.AfterValue;
    }

    private void AfterValue(char c)
    {
        var frame = _stack[^1];
        if (c == ',')
        {
            Write(", ");
            _state = frame.IsObject ? State.Key : State.Value;
            return;
        }
        if (c == (frame.IsObject ? '}' : ']')) { CloseContainer(); return; }
        Fail("expected ',' delimiter");
    }

    private void CloseContainer()
    {
        var frame = _stack[^1];
        Write(frame.IsObject ? '}' : ']');
        _stack.RemoveAt(_stack.Count - 1);
        CompleteValue(frame.IsObject ? frame.Object : frame.Array);
    }
}
