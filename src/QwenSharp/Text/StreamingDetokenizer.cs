using System.Text;

namespace QwenSharp.Text;

/// <summary>
/// Turns generated ids into text one id at a time. A token may end in the middle of a UTF-8 character (a
/// Chinese character or an emoji often spans two or three byte-level tokens); those bytes are held back until
/// the character is complete, so no U+FFFD ever shows mid-stream for text that is valid in the end. Bytes
/// that can never become valid are replaced at once, as the full decode replaces them, so the concatenation
/// of every Push and the final Flush equals <see cref="Qwen2Tokenizer.Decode"/> of all the ids.
/// Not thread-safe: one instance per sequence.
/// </summary>
public sealed class StreamingDetokenizer
{
    private readonly Qwen2Tokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    // A stateful UTF-8 decoder keeps an incomplete sequence between calls and replaces invalid bytes with
    // U+FFFD by the same maximal-subpart rule Encoding.UTF8.GetString (and so Decode) uses.
    private readonly Decoder _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private char[] _chars = new char[64];

    public StreamingDetokenizer(Qwen2Tokenizer tokenizer, bool skipSpecialTokens = false)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>The text that <paramref name="id"/> completes; empty while a character is still incomplete.</summary>
    public string Push(int id)
    {
        if (!_tokenizer.IsKnown(id) || (_skipSpecialTokens && _tokenizer.IsSpecial(id))) return "";
        return Convert(_tokenizer.TokenBytes(id), flush: false);
    }

    /// <summary>Ends the stream: any bytes still held (an unfinished character) come out as U+FFFD.</summary>
    public string Flush() => Convert(ReadOnlySpan<byte>.Empty, flush: true);

    private string Convert(ReadOnlySpan<byte> bytes, bool flush)
    {
        int needed = _decoder.GetCharCount(bytes, flush: false) + 4;
        if (_chars.Length < needed) _chars = new char[Math.Max(needed, _chars.Length * 2)];
        int n = _decoder.GetChars(bytes, _chars, flush);
        return n == 0 ? "" : new string(_chars, 0, n);
    }
}
