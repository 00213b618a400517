using System.Runtime.CompilerServices;
namespace QwenSharp.Text;

/// <summary>
/// GPT-2's byte-level alphabet (`bytes_to_unicode` in openai/gpt-2 encoder.py, `ByteLevel` in HF tokenizers):
/// every byte maps to one printable character, so a byte string is spelt as text in vocab.json and merges.
/// Printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves; the other 68 bytes map, in
/// order, to U+0100, U+0101, … (space 0x20 becomes 'Ġ' U+0120, newline 0x0A becomes 'Ċ' U+010A).
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] s_byteToChar = BuildByteToChar();
    private static readonly short[] s_charToByte = BuildCharToByte();

    public static char ByteToChar(byte b) => s_byteToChar[b];

    /// <summary>The byte a character of the alphabet stands for, or -1 when it is not in the alphabet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // the load loops call it per character; never left unoptimized
    public static int CharToByte(char c) => c < s_charToByte.Length ? s_charToByte[c] : -1;

    /// <summary>
    /// Writes the bytes a vocabulary spelling (UTF-8) stands for and returns their count. Like HF's ByteLevel
    /// decoder, a spelling with any character outside the alphabet (an added token such as "&lt;tool_call&gt;" is
    /// usually inside it, one with a space is not) stands for its own UTF-8 bytes. Never longer than the spelling.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs once per token at load: skip the slow first tier
    public static int Decode(ReadOnlySpan<byte> spelling, Span<byte> destination)
    {
        short[] map = s_charToByte;
        int written = 0;
        for (int i = 0; i < spelling.Length; written++)
        {
            int c = spelling[i];
            if (c < 0x80) i++;
            else if ((c & 0xE0) == 0xC0 && i + 1 < spelling.Length && (spelling[i + 1] & 0xC0) == 0x80) // the alphabet lies below U+0800
            {
                c = (c & 0x1F) << 6 | (spelling[i + 1] & 0x3F);
                i += 2;
            }
            else c = -1;
            int b = c >= 0 && c < map.Length ? map[c] : -1;
            if (b < 0)
            {
                spelling.CopyTo(destination);
                return spelling.Length;
            }
            destination[written] = (byte)b;
        }
        return written;
    }

    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = s_byteToChar[bytes[i]];
        return new string(chars);
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var map = new short[324];
        Array.Fill(map, (short)-1);
        for (int b = 0; b < 256; b++) map[s_byteToChar[b]] = (short)b;
        return map;
    }
}
