using System.Runtime.InteropServices;
using QwenSharp.Tensors;

namespace QwenSharp.Formats;

/// <summary>
/// A GGUF file (v3, or v2 which has the same layout), memory-mapped, as ggml's gguf.cpp defines it: magic "GGUF",
/// version, tensor count, metadata count, the key/value pairs, the tensor infos (name, dims innermost first, type,
/// offset), then the data section at the next multiple of <c>general.alignment</c> (default 32). Every count,
/// length, offset and size is checked against the file before use; defects are <see cref="FormatException"/>s
/// naming the file and the key or tensor.
/// </summary>
public sealed unsafe class GgufFile : IDisposable
{
    public const uint Magic = 0x46554747; // "GGUF" read as a little-endian u32
    public const uint DefaultAlignment = 32;
    public const string AlignmentKey = "general.alignment";
    /// <summary>ggml's GGML_MAX_DIMS.</summary>
    public const int MaxDims = 4;
    // Nested arrays are legal but no real file nests deeper than one level; the cap keeps recursion bounded.
    private const int MaxArrayDepth = 8;

    private readonly MappedFile? _file;
    private readonly Dictionary<string, TensorView> _tensors;
    private readonly List<string> _order;

    private GgufFile(MappedFile? file, string path, uint version, GgufMetadata metadata, uint alignment, long dataOffset,
        Dictionary<string, TensorView> tensors, List<string> order)
    {
        _file = file;
        Path = path;
        Version = version;
        Metadata = metadata;
        Alignment = alignment;
        DataOffset = dataOffset;
        _tensors = tensors;
        _order = order;
    }

    public string Path { get; }
    public uint Version { get; }
    public GgufMetadata Metadata { get; }
    public uint Alignment { get; }
    /// <summary>Where the data section starts in the file.</summary>
    public long DataOffset { get; }
    /// <summary>Tensor names (GGUF names, e.g. blk.0.attn_q.weight) in file order.</summary>
    public IReadOnlyList<string> TensorNames => _order;
    /// <summary>Tensors with their shapes outermost first (GGUF's ne reversed).</summary>
    public IEnumerable<TensorView> Tensors => _order.Select(n => _tensors[n]);
    public bool Contains(string name) => _tensors.ContainsKey(name);
    public bool TryGet(string name, out TensorView view) => _tensors.TryGetValue(name, out view!);

    public TensorView Get(string name) =>
        _tensors.TryGetValue(name, out var view) ? view : throw new FormatException($"{Path} has no tensor {name}.");

    public static GgufFile Open(string path)
    {
        var file = MappedFile.Open(path);
        try
        {
            return Parse(file, file.Path, file.Pointer, file.Length);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Parses bytes already in memory (for tests and fuzzing); they must outlive the returned file.</summary>
    internal static GgufFile Parse(string origin, byte* pointer, long length) => Parse(null, origin, pointer, length);

    private static GgufFile Parse(MappedFile? file, string path, byte* pointer, long length)
    {
        var c = new GgufCursor(path, pointer, length);
        if (length < 4 || c.ReadUInt32("the magic") != Magic)
            throw new FormatException($"{path} is not a GGUF file: it does not start with the bytes \"GGUF\".");
        uint version = c.ReadUInt32("the version");
        if (version is not (2 or 3))
            throw new FormatException($"{path} is GGUF version {version}; supported versions are 2 and 3{(version > 0xFFFF ? " (a big-endian file?)" : "")}.");

        ulong tensorCount = c.ReadUInt64("the tensor count");
        ulong keyCount = c.ReadUInt64("the metadata count");
        // Smallest key/value pair: an empty key (8) + type (4) + a one-byte value.
        int keys = c.CheckCount(keyCount, 8 + 4 + 1, "the metadata count");

        var values = new Dictionary<string, object>(StringComparer.Ordinal);
        var order = new List<string>();
        for (int i = 0; i < keys; i++)
        {
            string key = c.ReadString($"metadata key #{i}");
            uint type = c.ReadUInt32($"the type of metadata key {key}");
            object value = ReadValue(c, type, key, 0);
            if (!values.TryAdd(key, value))
                throw new FormatException($"{path} has metadata key {key} twice.");
            order.Add(key);
        }
        var metadata = new GgufMetadata(path, values, order);

        uint alignment = DefaultAlignment;
        if (values.TryGetValue(AlignmentKey, out var a))
        {
            // gguf.cpp insists on a u32 power of two here.
            if (a is not uint au || au == 0 || (au & (au - 1)) != 0)
                throw new FormatException($"{path}: metadata key {AlignmentKey} is {a}, not a u32 power of two.");
            alignment = au;
        }

        // Smallest tensor info: empty name (8) + n_dims (4) + type (4) + offset (8).
        int tensorInfos = c.CheckCount(tensorCount, 8 + 4 + 4 + 8, "the tensor count");
        var infos = new List<(string Name, long[] Ne, uint Type, ulong Offset)>(tensorInfos);
        for (int i = 0; i < tensorInfos; i++)
        {
            string name = c.ReadString($"the name of tensor #{i}");
            uint dims = c.ReadUInt32($"the dimension count of tensor {name}");
            if (dims > MaxDims)
                throw new FormatException($"{path}: tensor {name} has {dims} dimensions; GGUF allows at most {MaxDims}.");
            var ne = new long[dims];
            for (int d = 0; d < dims; d++)
            {
                ulong n = c.ReadUInt64($"the dimensions of tensor {name}");
                if (n > long.MaxValue)
                    throw new FormatException($"{path}: tensor {name} has dimension {n}, too large for any file.");
                ne[d] = (long)n;
            }
            uint type = c.ReadUInt32($"the type of tensor {name}");
            ulong offset = c.ReadUInt64($"the offset of tensor {name}");
            infos.Add((name, ne, type, offset));
        }

        long dataOffset = c.AlignedPosition(alignment);
        long dataLength = Math.Max(0, length - dataOffset);
        var tensors = new Dictionary<string, TensorView>(StringComparer.Ordinal);
        var names = new List<string>(infos.Count);
        var spans = new List<(long Begin, long End, string Name)>(infos.Count);
        foreach (var (name, ne, typeId, offset) in infos)
        {
            if (tensors.ContainsKey(name))
                throw new FormatException($"{path} lists tensor {name} twice.");
            var type = (GgmlType)typeId;
            if (!GgmlTypeInfo.IsKnown(type))
                throw new FormatException(GgmlTypeInfo.GgmlName(typeId) is { } ggmlName
                    ? $"{path}: tensor {name} has type {ggmlName} (type id {typeId}), which this runtime does not read; it reads {GgmlTypeInfo.WeightTypeList}."
                    : $"{path}: tensor {name} has type id {typeId}, which is not a ggml type this runtime reads.");
            long bytes = TensorBytes(path, name, type, ne);
            if (offset % alignment != 0)
                throw new FormatException($"{path}: tensor {name} starts at data offset {offset}, not a multiple of the alignment {alignment}.");
            if (offset > (ulong)dataLength || bytes > dataLength - (long)offset)
                throw new FormatException($"{path}: tensor {name} ({bytes} bytes at data offset {offset}) runs past the end of the data section ({dataLength} bytes); the file is truncated or corrupt.");
            long begin = (long)offset;
            spans.Add((begin, begin + bytes, name));
            var shape = new long[ne.Length];
            for (int d = 0; d < ne.Length; d++) shape[d] = ne[ne.Length - 1 - d];
            tensors[name] = new TensorView(name, type, shape, pointer + dataOffset + begin, bytes);
            names.Add(name);
        }
        SafetensorsFile.CheckNoOverlap(path, spans);

        return new GgufFile(file, path, version, metadata, alignment, dataOffset, tensors, names);
    }

    /// <summary>Bytes of a tensor from its dims and its type's block geometry; a size past what a long holds is refused.</summary>
    private static long TensorBytes(string path, string name, GgmlType type, long[] ne)
    {
        int blockSize = GgmlTypeInfo.BlockSize(type), blockBytes = GgmlTypeInfo.BlockBytes(type);
        long columns = ne.Length == 0 ? 1 : ne[0];
        if (columns % blockSize != 0)
            throw new FormatException($"{path}: tensor {name} has rows of {columns} values, not a whole number of {type} blocks of {blockSize}.");
        long bytes = columns / blockSize;
        bool tooLarge = bytes > long.MaxValue / blockBytes;
        bytes *= blockBytes;
        for (int d = 1; d < ne.Length && !tooLarge; d++)
        {
            tooLarge = ne[d] != 0 && bytes > long.MaxValue / ne[d];
            bytes *= ne[d];
        }
        if (tooLarge)
            throw new FormatException($"{path}: tensor {name} of {type} with dims [{string.Join(", ", ne)}] (innermost first) is larger than any file can hold.");
        return bytes;
    }

    private static object ReadValue(GgufCursor c, uint type, string key, int depth)
    {
        string what = $"metadata key {key}";
        switch ((GgufValueType)type)
        {
            case GgufValueType.UInt8: return c.ReadUInt8(what);
            case GgufValueType.Int8: return (sbyte)c.ReadUInt8(what);
            case GgufValueType.UInt16: return c.ReadUInt16(what);
            case GgufValueType.Int16: return (short)c.ReadUInt16(what);
            case GgufValueType.UInt32: return c.ReadUInt32(what);
            case GgufValueType.Int32: return (int)c.ReadUInt32(what);
            case GgufValueType.Float32: return c.ReadFloat32(what);
            case GgufValueType.Bool: return ReadBool(c, what);
            case GgufValueType.String: return c.ReadString(what);
            case GgufValueType.UInt64: return c.ReadUInt64(what);
            case GgufValueType.Int64: return (long)c.ReadUInt64(what);
            case GgufValueType.Float64: return c.ReadFloat64(what);
            case GgufValueType.Array: return ReadArray(c, key, depth);
            default:
                throw new FormatException($"{c.Path}: metadata key {key} has value type {type}, which is not a GGUF type (0..12).");
        }
    }

    private static bool ReadBool(GgufCursor c, string what)
    {
        byte b = c.ReadUInt8(what);
        return b switch
        {
            0 => false,
            1 => true,
            _ => throw new FormatException($"{c.Path}: {what} holds bool byte {b}, not 0 or 1."),
        };
    }

    private static GgufArray ReadArray(GgufCursor c, string key, int depth)
    {
        if (depth >= MaxArrayDepth)
            throw new FormatException($"{c.Path}: metadata key {key} nests arrays deeper than {MaxArrayDepth} levels.");
        string what = $"metadata key {key}";
        uint elementTypeId = c.ReadUInt32(what);
        if (elementTypeId > (uint)GgufValueType.Float64)
            throw new FormatException($"{c.Path}: metadata key {key} is an array of value type {elementTypeId}, which is not a GGUF type (0..12).");
        var elementType = (GgufValueType)elementTypeId;
        int count = c.CheckCount(c.ReadUInt64(what), GgufValueTypes.MinimumSize(elementType), what);

        switch (elementType)
        {
            case GgufValueType.String:
            {
                var items = new string[count];
                for (int i = 0; i < count; i++) items[i] = c.ReadString(what);
                return new GgufArray(elementType, items);
            }
            case GgufValueType.Array:
            {
                // gguf-py packs each item of an array of arrays as (element type, count, items), with no value type before it.
                var items = new GgufArray[count];
                for (int i = 0; i < count; i++) items[i] = ReadArray(c, key, depth + 1);
                return new GgufArray(elementType, items);
            }
            case GgufValueType.Bool:
            {
                var bytes = c.Take(count, what);
                var items = new bool[count];
                for (int i = 0; i < count; i++)
                    items[i] = bytes[i] switch
                    {
                        0 => false,
                        1 => true,
                        _ => throw new FormatException($"{c.Path}: {what} holds bool byte {bytes[i]} at item {i}, not 0 or 1."),
                    };
                return new GgufArray(elementType, items);
            }
            default:
                return new GgufArray(elementType, elementType switch
                {
                    GgufValueType.UInt8 => Copy<byte>(c, count, what),
                    GgufValueType.Int8 => Copy<sbyte>(c, count, what),
                    GgufValueType.UInt16 => Copy<ushort>(c, count, what),
                    GgufValueType.Int16 => Copy<short>(c, count, what),
                    GgufValueType.UInt32 => Copy<uint>(c, count, what),
                    GgufValueType.Int32 => Copy<int>(c, count, what),
                    GgufValueType.Float32 => Copy<float>(c, count, what),
                    GgufValueType.UInt64 => Copy<ulong>(c, count, what),
                    GgufValueType.Int64 => Copy<long>(c, count, what),
                    _ => Copy<double>(c, count, what),
                });
        }
    }

    /// <summary>Copies fixed-size little-endian items straight from the file (every platform .NET runs this on is little-endian).</summary>
    private static T[] Copy<T>(GgufCursor c, int count, string what) where T : unmanaged
    {
        var bytes = c.Take(checked(count * sizeof(T)), what);
        return MemoryMarshal.Cast<byte, T>(bytes).ToArray();
    }

    public void Dispose() => _file?.Dispose();

    public override string ToString() => Path;
}
