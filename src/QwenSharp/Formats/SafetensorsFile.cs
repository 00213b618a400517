using System.Buffers.Binary;
using System.Text.Json;
using QwenSharp.Tensors;

namespace QwenSharp.Formats;

/// <summary>
/// One .safetensors file, memory-mapped: an 8-byte little-endian header length, a JSON header
/// ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {string: string}}) and the
/// data section, offsets relative to its start (huggingface/safetensors' format). Everything in the header is
/// checked against the file before a view is handed out.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    // The reference implementation refuses headers over 100 MB; a real one is a few hundred kilobytes.
    private const long MaxHeaderBytes = 100_000_000;

    private readonly MappedFile _file;
    private readonly Dictionary<string, TensorView> _tensors;
    private readonly List<string> _order;

    private SafetensorsFile(MappedFile file, Dictionary<string, TensorView> tensors, List<string> order, Dictionary<string, string> metadata)
    {
        _file = file;
        _tensors = tensors;
        _order = order;
        Metadata = metadata;
    }

    public string Path => _file.Path;
    /// <summary>The "__metadata__" entries (e.g. "format": "pt"); empty when the header has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Tensor names in header order.</summary>
    public IReadOnlyList<string> TensorNames => _order;
    public IEnumerable<TensorView> Tensors => _order.Select(n => _tensors[n]);
    public bool Contains(string name) => _tensors.ContainsKey(name);
    public bool TryGet(string name, out TensorView view) => _tensors.TryGetValue(name, out view!);

    public TensorView Get(string name) =>
        _tensors.TryGetValue(name, out var view) ? view : throw new FormatException($"{Path} has no tensor {name}.");

    /// <summary>Maps and validates <paramref name="path"/>; any defect is a <see cref="FormatException"/> naming the file and tensor.</summary>
    public static SafetensorsFile Open(string path)
    {
        var file = MappedFile.Open(path);
        try
        {
            return Parse(file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static SafetensorsFile Parse(MappedFile file)
    {
        string path = file.Path;
        if (file.Length < 8)
            throw new FormatException($"{path} is too short ({file.Length} bytes) to be a safetensors file: it lacks the 8-byte header length.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file.Span(0, 8));
        if (headerLength > (ulong)(file.Length - 8))
            throw new FormatException($"{path} declares a {headerLength}-byte header but only {file.Length - 8} bytes follow: the file is truncated or not safetensors.");
        if (headerLength > MaxHeaderBytes)
            throw new FormatException($"{path} declares a {headerLength}-byte header, over the {MaxHeaderBytes}-byte limit.");

        long dataStart = 8 + (long)headerLength;
        long dataLength = file.Length - dataStart;

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(file.Span(8, (int)headerLength).ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path} has a header that is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new FormatException($"{path} has a header that is a JSON {doc.RootElement.ValueKind}, not an object.");

            var tensors = new Dictionary<string, TensorView>(StringComparer.Ordinal);
            var order = new List<string>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var spans = new List<(long Begin, long End, string Name)>();

            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    ReadMetadata(path, entry.Value, metadata);
                    continue;
                }

                string name = entry.Name;
                if (tensors.ContainsKey(name))
                    throw new FormatException($"{path} lists tensor {name} twice.");
                var (type, shape, begin, end) = ReadEntry(path, name, entry.Value, dataLength);
                spans.Add((begin, end, name));
                tensors[name] = new TensorView(name, type, shape, file.Pointer + dataStart + begin, end - begin);
                order.Add(name);
            }

            CheckNoOverlap(path, spans);
            return new SafetensorsFile(file, tensors, order, metadata);
        }
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new FormatException($"{path} has a __metadata__ that is a JSON {value.ValueKind}, not an object of strings.");
        foreach (var kv in value.EnumerateObject())
        {
            if (kv.Value.ValueKind != JsonValueKind.String)
                throw new FormatException($"{path} has __metadata__ key {kv.Name} whose value is a JSON {kv.Value.ValueKind}, not a string.");
            metadata[kv.Name] = kv.Value.GetString()!;
        }
    }

    private static (GgmlType Type, long[] Shape, long Begin, long End) ReadEntry(string path, string name, JsonElement value, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new FormatException($"{path}: the header entry of tensor {name} is a JSON {value.ValueKind}, not an object.");

        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new FormatException($"{path}: tensor {name} has no dtype string.");
        string dtype = dtypeElement.GetString()!;
        if (!SafetensorsDType.TryParse(dtype, out var type))
            throw new FormatException($"{path}: tensor {name} has dtype {dtype}; supported dtypes are {SafetensorsDType.Supported}.");

        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new FormatException($"{path}: tensor {name} has no shape array.");
        var shape = new long[shapeElement.GetArrayLength()];
        long elements = 1;
        int i = 0;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
                throw new FormatException($"{path}: tensor {name} has shape entry {d.GetRawText()}, not a non-negative integer.");
            shape[i++] = dim;
            // Capping the product at the data length keeps it from overflowing and still catches a mismatch.
            elements = dim == 0 || elements == 0 ? 0 : elements > dataLength / dim ? dataLength + 1 : elements * dim;
        }

        if (!value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw new FormatException($"{path}: tensor {name} has no data_offsets pair [begin, end].");
        if (!offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new FormatException($"{path}: tensor {name} has data_offsets {offsets.GetRawText()}, not 0 <= begin <= end.");
        if (end > dataLength)
            throw new FormatException($"{path}: tensor {name} has data_offsets [{begin}, {end}] past the end of the data section ({dataLength} bytes); the file is truncated or corrupt.");

        long expected = elements > dataLength ? -1 : elements * GgmlTypeInfo.BlockBytes(type);
        if (expected != end - begin)
            throw new FormatException($"{path}: tensor {name} of dtype {dtype} and shape [{string.Join(", ", shape)}] needs {(expected < 0 ? "more than the file's" : expected.ToString())} bytes but its data_offsets span {end - begin}.");
        return (type, shape, begin, end);
    }

    /// <summary>Sorted by start, each non-empty span must begin at or after the end of the last non-empty one.</summary>
    internal static void CheckNoOverlap(string path, List<(long Begin, long End, string Name)> spans)
    {
        spans.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        (long Begin, long End, string Name)? last = null;
        foreach (var span in spans)
        {
            // Zero-sized tensors own no bytes, so they cannot collide with anything.
            if (span.End == span.Begin) continue;
            if (last is { } prev && span.Begin < prev.End)
                throw new FormatException($"{path}: tensor {span.Name} (bytes {span.Begin}..{span.End}) overlaps tensor {prev.Name} (bytes {prev.Begin}..{prev.End}).");
            last = span;
        }
    }

    public void Dispose() => _file.Dispose();

    public override string ToString() => Path;
}
