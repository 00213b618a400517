using System.Buffers.Binary;
using System.Text;

namespace QwenSharp.Formats;

/// <summary>
/// Reads GGUF header fields from mapped memory, little-endian, checking every length and count against the
/// bytes that remain before reading or allocating, so a corrupt or hostile header ends in a
/// <see cref="FormatException"/> that names the file and the key or tensor being read.
/// </summary>
internal sealed unsafe class GgufCursor(string path, byte* start, long length)
{
    public long Position { get; private set; }
    public long Remaining => length - Position;
    public string Path => path;

    /// <summary>Fails unless <paramref name="count"/> bytes remain; <paramref name="what"/> says what was being read.</summary>
    public void Need(long count, string what)
    {
        if (count < 0 || count > Remaining)
            throw new FormatException($"{path} ends inside {what}: it needs {count} more bytes at offset {Position} but only {Remaining} remain.");
    }

    public ReadOnlySpan<byte> Take(int count, string what)
    {
        Need(count, what);
        var span = new ReadOnlySpan<byte>(start + Position, count);
        Position += count;
        return span;
    }

    public byte ReadUInt8(string what) => Take(1, what)[0];
    public ushort ReadUInt16(string what) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, what));
    public uint ReadUInt32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));
    public ulong ReadUInt64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));
    public float ReadFloat32(string what) => BinaryPrimitives.ReadSingleLittleEndian(Take(4, what));
    public double ReadFloat64(string what) => BinaryPrimitives.ReadDoubleLittleEndian(Take(8, what));

    /// <summary>A u64 length followed by that many UTF-8 bytes (not NUL-terminated).</summary>
    public string ReadString(string what)
    {
        ulong count = ReadUInt64(what);
        if (count > (ulong)Remaining)
            throw new FormatException($"{path}: {what} declares a string of {count} bytes but only {Remaining} remain in the file.");
        if (count > int.MaxValue)
            throw new FormatException($"{path}: {what} declares a string of {count} bytes, over the 2 GiB limit of a string.");
        return Encoding.UTF8.GetString(Take((int)count, what));
    }

    /// <summary>
    /// Checks that <paramref name="count"/> items of at least <paramref name="minItemBytes"/> each can fit in what
    /// remains, before anything is allocated for them; also caps them at the largest .NET array.
    /// </summary>
    public int CheckCount(ulong count, int minItemBytes, string what)
    {
        if (count > (ulong)(Remaining / minItemBytes))
            throw new FormatException($"{path}: {what} declares {count} items, but the {Remaining} bytes left in the file hold at most {Remaining / minItemBytes}.");
        if (count > (ulong)Array.MaxLength)
            throw new FormatException($"{path}: {what} declares {count} items, over the {Array.MaxLength} a single array can hold.");
        return (int)count;
    }

    /// <summary>Skips to the next multiple of <paramref name="alignment"/> (the file may end there).</summary>
    public long AlignedPosition(uint alignment) => (Position + alignment - 1) / alignment * alignment;
}
