using System.Text;

namespace QwenSharp.Tests.Formats;

/// <summary>
/// Builds GGUF bytes field by field, independently of <see cref="QwenSharp.Formats.GgufWriter"/>, so tests can state
/// exactly what lies in a file, including what no writer would produce (bad offsets, counts, types).
/// </summary>
internal sealed class RawGguf
{
    private readonly MemoryStream _bytes = new();
    private readonly BinaryWriter _w;

    public RawGguf() => _w = new BinaryWriter(_bytes, Encoding.UTF8);

    public long Length => _bytes.Length;

    public RawGguf Header(uint version, ulong tensors, ulong keys)
    {
        _w.Write(Encoding.ASCII.GetBytes("GGUF"));
        _w.Write(version);
        _w.Write(tensors);
        _w.Write(keys);
        return this;
    }

    public RawGguf Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        _w.Write((ulong)b.Length);
        _w.Write(b);
        return this;
    }

    public RawGguf U32(uint v) { _w.Write(v); return this; }
    public RawGguf U64(ulong v) { _w.Write(v); return this; }
    public RawGguf U8(byte v) { _w.Write(v); return this; }

    public RawGguf KeyU32(string key, uint value) => Str(key).U32(4).U32(value);
    public RawGguf KeyString(string key, string value) => Str(key).U32(8).Str(value);

    /// <summary>A tensor info: name, dims (innermost first, as GGUF stores them), type id, data offset.</summary>
    public RawGguf Tensor(string name, ulong[] ne, uint type, ulong offset)
    {
        Str(name).U32((uint)ne.Length);
        foreach (ulong n in ne) U64(n);
        return U32(type).U64(offset);
    }

    public RawGguf AlignTo(int alignment)
    {
        while (_bytes.Length % alignment != 0) _w.Write((byte)0);
        return this;
    }

    public RawGguf Zeros(int count)
    {
        _w.Write(new byte[count]);
        return this;
    }

    public byte[] ToArray()
    {
        _w.Flush();
        return _bytes.ToArray();
    }
}
