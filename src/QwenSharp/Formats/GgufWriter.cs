using System.Buffers.Binary;
using System.Text;
using QwenSharp.Tensors;

namespace QwenSharp.Formats;

/// <summary>
/// Writes a GGUF v3 file the way gguf-py and gguf.cpp lay it out, so llama.cpp loads it: header, metadata in the
/// order set, tensor infos with dims innermost first, then each tensor's data at the next multiple of the
/// alignment (32 unless <c>general.alignment</c> is set), in the order added. Data is streamed from each
/// <see cref="TensorSpec"/>'s callback and must be already encoded in the tensor's ggml format.
/// Arrays of arrays are valid GGUF and written and read here, but llama.cpp's gguf.cpp refuses a file holding
/// one (seen with LLamaSharp 0.30.0), so a model file meant for llama.cpp should not use them.
/// </summary>
public sealed class GgufWriter
{
    // ggml's GGML_MAX_NAME is 64 including the terminating NUL.
    public const int MaxTensorNameBytes = 63;

    private readonly Dictionary<string, object> _values = new(StringComparer.Ordinal);
    private readonly List<string> _keys = [];
    private readonly List<TensorSpec> _tensors = [];
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);

    public IReadOnlyList<string> Keys => _keys;
    public IReadOnlyList<TensorSpec> Tensors => _tensors;

    /// <summary>
    /// Sets a metadata value of a GGUF CLR type (byte, sbyte, ushort, short, uint, int, float, bool, string, GgufArray,
    /// ulong, long, double); setting a key again replaces its value in place.
    /// </summary>
    public GgufWriter Set(string key, object value)
    {
        if (GgufValueTypes.Of(value) is null)
            throw new ArgumentException($"Metadata key {key}: a {value.GetType().Name} is not a GGUF value type.");
        if (key == GgufFile.AlignmentKey && (value is not uint a || a == 0 || (a & (a - 1)) != 0))
            throw new ArgumentException($"{GgufFile.AlignmentKey} must be a u32 power of two, not {value}.");
        if (_values.TryAdd(key, value)) _keys.Add(key);
        else _values[key] = value;
        return this;
    }

    public GgufWriter SetString(string key, string value) => Set(key, value);
    public GgufWriter SetUInt32(string key, uint value) => Set(key, value);
    public GgufWriter SetInt32(string key, int value) => Set(key, value);
    public GgufWriter SetUInt64(string key, ulong value) => Set(key, value);
    public GgufWriter SetFloat32(string key, float value) => Set(key, value);
    public GgufWriter SetBool(string key, bool value) => Set(key, value);
    public GgufWriter SetArray(string key, GgufArray value) => Set(key, value);

    /// <summary>The value set for <paramref name="key"/>.</summary>
    public object Get(string key) =>
        _values.TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"Metadata key {key} is not set.");

    public bool Remove(string key) => _values.Remove(key) && _keys.Remove(key);

    /// <summary>Adds a tensor; its shape is outermost first (as <see cref="TensorView.Shape"/>) and at most 4-dimensional.</summary>
    public GgufWriter AddTensor(TensorSpec tensor)
    {
        if (Encoding.UTF8.GetByteCount(tensor.Name) > MaxTensorNameBytes)
            throw new ArgumentException($"Tensor name {tensor.Name} is longer than the {MaxTensorNameBytes} bytes ggml allows.");
        if (tensor.Shape.Length > GgufFile.MaxDims)
            throw new ArgumentException($"Tensor {tensor.Name} has {tensor.Shape.Length} dimensions; GGUF allows at most {GgufFile.MaxDims}.");
        _ = tensor.ByteLength; // refuses negative dims and rows that are not whole blocks, now rather than mid-file
        if (!_tensorNames.Add(tensor.Name))
            throw new ArgumentException($"Tensor {tensor.Name} is added twice.");
        _tensors.Add(tensor);
        return this;
    }

    public GgufWriter AddTensor(string name, GgmlType type, long[] shape, Action<Stream> writeData) =>
        AddTensor(new TensorSpec(name, type, shape, writeData));

    private uint Alignment => _values.TryGetValue(GgufFile.AlignmentKey, out var a) ? (uint)a : GgufFile.DefaultAlignment;

    /// <summary>Writes the file, then lets its pages go from the page cache (<see cref="PageCache"/>) so the first
    /// load maps it on huge pages.</summary>
    public void Write(string path)
    {
        using (var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20)) Write(stream);
        PageCache.Release(path);
    }

    /// <summary>Writes the whole file to <paramref name="stream"/>, which starts at file offset 0.</summary>
    public void Write(Stream stream)
    {
        uint alignment = Alignment;
        var header = new MemoryStream();
        var w = new BinaryWriter(header, Encoding.UTF8, leaveOpen: true); // BinaryWriter is little-endian on every platform
        w.Write(GgufFile.Magic);
        w.Write(3u);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_keys.Count);
        foreach (string key in _keys)
        {
            WriteString(w, key);
            object value = _values[key];
            w.Write((uint)GgufValueTypes.Of(value)!.Value);
            WriteValue(w, value);
        }

        long offset = 0;
        foreach (var t in _tensors)
        {
            WriteString(w, t.Name);
            // GGUF lists ne innermost first; a scalar is stored as one dimension of 1.
            var shape = t.Shape.Length == 0 ? [1L] : t.Shape;
            w.Write((uint)shape.Length);
            for (int d = shape.Length - 1; d >= 0; d--) w.Write((ulong)shape[d]);
            w.Write((uint)t.Type);
            w.Write((ulong)offset);
            offset = Align(offset + t.ByteLength, alignment);
        }
        w.Flush();
        Pad(header, header.Length, alignment);
        header.Position = 0;
        header.CopyTo(stream);

        long written = 0;
        foreach (var t in _tensors)
        {
            t.WriteTo(stream);
            written += t.ByteLength;
            written = Pad(stream, written, alignment);
        }
        stream.Flush();
    }

    private static long Align(long offset, uint alignment) => (offset + alignment - 1) / alignment * alignment;

    private static long Pad(Stream stream, long position, uint alignment)
    {
        long target = Align(position, alignment);
        for (long i = position; i < target; i++) stream.WriteByte(0);
        return target;
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, object value)
    {
        switch (value)
        {
            case byte x: w.Write(x); break;
            case sbyte x: w.Write(x); break;
            case ushort x: w.Write(x); break;
            case short x: w.Write(x); break;
            case uint x: w.Write(x); break;
            case int x: w.Write(x); break;
            case float x: w.Write(x); break;
            case bool x: w.Write((byte)(x ? 1 : 0)); break;
            case string x: WriteString(w, x); break;
            case ulong x: w.Write(x); break;
            case long x: w.Write(x); break;
            case double x: w.Write(x); break;
            case GgufArray array:
                w.Write((uint)array.ElementType);
                w.Write((ulong)array.Count);
                // Items of an array of arrays carry no value type of their own (gguf-py's _pack_val with add_vtype=False).
                foreach (object item in array.Items) WriteValue(w, item);
                break;
            default:
                throw new ArgumentException($"A {value.GetType().Name} is not a GGUF value type.");
        }
    }
}
