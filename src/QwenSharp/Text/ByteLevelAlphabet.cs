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
    /// The bytes a vocabulary string stands for. Like HF's ByteLevel decoder, a string with any character
    /// outside the alphabet (an added token such as "&lt;tool_call&gt;" is usually inside it, one with a space
    /// is not) stands for its own UTF-8 bytes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs once per load: skip the slow first tier
    public static byte[] Decode(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            int b = CharToByte(token[i]);
            if (b < 0) return System.Text.Encoding.UTF8.GetBytes(token);
            bytes[i] = (byte)b;
        }
        return bytes;
    }

    /// <summary>Writes the bytes of a token spelt wholly in the alphabet; false when a character is not in it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryDecode(string token, Span<byte> destination)
    {
        short[] map = s_charToByte;
        for (int i = 0; i < token.Length; i++)
        {
            char c = token[i];
            int b = c < map.Length ? map[c] : -1;
            if (b < 0) return false;
            destination[i] = (byte)b;
        }
        return true;
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
