using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace QwenSharp.Text;

/// <summary>
/// A forward-only reader of JSON over UTF-8 bytes for the two large parts of a tokenizer file (151k vocabulary
/// entries, 151k merges). Strings come back as UTF-8 spans, slices of the file when they hold no escape, so
/// reading them allocates nothing; Utf8JsonReader transcodes every one to UTF-16 and was two thirds of a
/// cold load. Strict: anything that is not JSON fails with the file and line named. Small values (booleans,
/// the added-token list) are handed out as byte ranges for System.Text.Json to read.
/// </summary>
internal ref struct JsonByteScanner
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly string _path;
    private int _at;

    public JsonByteScanner(ReadOnlySpan<byte> data, string path)
    {
        _data = data;
        _path = path;
        if (data.Length >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF) _at = 3; // UTF-8 byte order mark
    }

    /// <summary>The next significant byte, or -1 at the end; does not consume it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Peek()
    {
        SkipWhitespace();
        return _at < _data.Length ? _data[_at] : -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Expect(byte c)
    {
        if (Peek() != c) throw Fail($"expected '{(char)c}'");
        _at++;
    }

    /// <summary>Consumes <paramref name="c"/> when it comes next.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryConsume(byte c)
    {
        if (Peek() != c) return false;
        _at++;
        return true;
    }

    /// <summary>After a member or element: true when another follows (a comma was read), false at
    /// <paramref name="close"/> (consumed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool NextMember(byte close)
    {
        int c = Peek();
        _at++;
        if (c == ',') return true;
        if (c == close) return false;
        _at--;
        throw Fail($"expected ',' or '{(char)close}'");
    }

    /// <summary>Reads a string; the value is a slice of the data, or of <paramref name="scratch"/> when it held
    /// escapes. Fails when the string is longer than the scratch can hold unescaped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ReadOnlySpan<byte> ReadString(Span<byte> scratch)
    {
        Expect((byte)'"');
        int start = _at;
        while (true)
        {
            if (_at >= _data.Length) throw Fail("unterminated string");
            byte b = _data[_at];
            if (b == '"')
            {
                _at++;
                return _data[start..(_at - 1)];
            }
            if (b == '\\') return ReadEscapedString(start, scratch);
            if (b < 0x20) throw Fail("control character in a string");
            _at++;
        }
    }

    private ReadOnlySpan<byte> ReadEscapedString(int start, Span<byte> scratch)
    {
        int length = _at - start;
        if (length > scratch.Length) throw Fail($"a string longer than {scratch.Length} bytes");
        _data[start.._at].CopyTo(scratch);
        while (true)
        {
            if (_at >= _data.Length) throw Fail("unterminated string");
            byte b = _data[_at++];
            if (b == '"') return scratch[..length];
            if (b < 0x20) throw Fail("control character in a string");
            if (length + 4 > scratch.Length) throw Fail($"a string longer than {scratch.Length} bytes");
            if (b != '\\')
            {
                scratch[length++] = b;
                continue;
            }
            if (_at >= _data.Length) throw Fail("unterminated string");
            byte e = _data[_at++];
            switch (e)
            {
                case (byte)'"' or (byte)'\\' or (byte)'/': scratch[length++] = e; break;
                case (byte)'b': scratch[length++] = 8; break;
                case (byte)'f': scratch[length++] = 12; break;
                case (byte)'n': scratch[length++] = 10; break;
                case (byte)'r': scratch[length++] = 13; break;
                case (byte)'t': scratch[length++] = 9; break;
                case (byte)'u': length += AppendCodePoint(scratch[length..]); break;
                default: _at--; throw Fail($"unknown escape '\\{(char)e}'");
            }
        }
    }

    // \uXXXX, or a surrogate pair written as two of them, as UTF-8
    private int AppendCodePoint(Span<byte> destination)
    {
        int unit = ReadHex4();
        int codePoint = unit;
        if (char.IsHighSurrogate((char)unit))
        {
            if (_at + 6 > _data.Length || _data[_at] != '\\' || _data[_at + 1] != 'u') throw Fail("a lone surrogate escape");
            _at += 2;
            int low = ReadHex4();
            if (!char.IsLowSurrogate((char)low)) throw Fail("a lone surrogate escape");
            codePoint = char.ConvertToUtf32((char)unit, (char)low);
        }
        else if (char.IsLowSurrogate((char)unit)) throw Fail("a lone surrogate escape");
        return new Rune(codePoint).EncodeToUtf8(destination);
    }

    private int ReadHex4()
    {
        if (_at + 4 > _data.Length) throw Fail("a truncated \\u escape");
        int value = 0;
        for (int i = 0; i < 4; i++)
        {
            int d = HexValue(_data[_at++]);
            if (d < 0) throw Fail("a \\u escape that is not 4 hex digits");
            value = value << 4 | d;
        }
        return value;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    /// <summary>Reads an integer that fits in an int (a token id).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int ReadInt32()
    {
        SkipWhitespace();
        bool negative = _at < _data.Length && _data[_at] == '-';
        if (negative) _at++;
        int start = _at;
        long value = 0;
        while (_at < _data.Length && (uint)(_data[_at] - '0') <= 9)
        {
            value = value * 10 + (_data[_at++] - '0');
            if (value > int.MaxValue) throw Fail("a number too large for a token id");
        }
        if (_at == start) throw Fail("expected an integer");
        if (_at < _data.Length && _data[_at] is (byte)'.' or (byte)'e' or (byte)'E') throw Fail("expected an integer");
        return negative ? -(int)value : (int)value;
    }

    /// <summary>Reads a small value (a setting, the added-token list) with System.Text.Json; invalid JSON is named
    /// with its line in the file.</summary>
    public JsonDocument ParseValue()
    {
        var value = SkipValue();
        try
        {
            return JsonDocument.Parse(_data[value].ToArray());
        }
        catch (JsonException e)
        {
            throw new FormatException($"{_path} is not valid JSON (line {LineOf(value.Start.Value) + (int)(e.LineNumber ?? 0)}): {e.Message}", e);
        }
    }

    /// <summary>Skips any value and returns where it lies.</summary>
    private Range SkipValue()
    {
        Peek();
        int start = _at;
        int depth = 0;
        do
        {
            int c = Peek();
            switch (c)
            {
                case -1: throw Fail("unexpected end of file");
                case '"': SkipString(); break;
                case '{' or '[': depth++; _at++; break;
                case '}' or ']': depth--; _at++; break;
                case ',' or ':': _at++; break;
                default:
                    while (_at < _data.Length && _data[_at] is not ((byte)',' or (byte)'}' or (byte)']' or (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')) _at++;
                    break;
            }
        } while (depth > 0);
        if (depth < 0) throw Fail("unbalanced brackets");
        return start.._at;
    }

    private void SkipString()
    {
        _at++;
        while (true)
        {
            if (_at >= _data.Length) throw Fail("unterminated string");
            byte b = _data[_at++];
            if (b == '"') return;
            if (b == '\\') _at++;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SkipWhitespace()
    {
        while (_at < _data.Length && _data[_at] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t') _at++;
    }

    /// <summary>A FormatException naming the file, the line of the current position and <paramref name="what"/>.</summary>
    public FormatException Fail(string what)
    {
        int line = LineOf(_at);
        if (_at >= _data.Length) return new FormatException($"{_path} is not valid JSON (line {line}): the file ends inside the JSON (truncated?); {what}.");
        return new FormatException($"{_path} is not valid JSON (line {line}): {what}.");
    }

    private int LineOf(int position) => _data[..Math.Min(position, _data.Length)].Count((byte)'\n') + 1;
}
