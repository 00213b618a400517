using System.Text;
using QwenSharp.Generation;

namespace QwenSharp.Tests.Generation;

/// <summary>
/// A test decoder: token id → UTF-8 bytes; Push returns only the characters completed so far (a token that ends
/// inside a multi-byte character waits for the rest), as the real streaming detokenizer does.
/// </summary>
internal sealed class FakeDecoder(IReadOnlyDictionary<int, byte[]> pieces) : IIncrementalDecoder
{
    private readonly List<byte> _pending = [];

    public static FakeDecoder FromStrings(params string[] pieces) =>
        new(pieces.Select((s, i) => (i, Encoding.UTF8.GetBytes(s))).ToDictionary(p => p.i, p => p.Item2));

    public List<int> Pushed { get; } = [];

    public string Push(int tokenId)
    {
        Pushed.Add(tokenId);
        _pending.AddRange(pieces.TryGetValue(tokenId, out var bytes) ? bytes : []);
        int complete = CompletePrefix(_pending);
        string text = Encoding.UTF8.GetString([.. _pending.Take(complete)]);
        _pending.RemoveRange(0, complete);
        return text;
    }

    public string Flush()
    {
        string text = Encoding.UTF8.GetString([.. _pending]);
        _pending.Clear();
        return text;
    }

    /// <summary>Bytes up to the last whole UTF-8 character.</summary>
    private static int CompletePrefix(List<byte> bytes)
    {
        int i = 0;
        while (i < bytes.Count)
        {
            byte b = bytes[i];
            int length = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
            if (i + length > bytes.Count) break;
            i += length;
        }
        return i;
    }
}
