namespace QwenSharp.Tensors;

/// <summary>
/// A named tensor's bytes where they lie (inside a memory-mapped file), with its format and shape.
/// Nothing is copied: <see cref="Pointer"/> stays valid while the owning weight source is alive.
/// </summary>
/// <remarks>
/// Shape is in PyTorch / safetensors order, outermost first: a linear weight is [out_features, in_features]
/// and each of its rows is contiguous. (GGUF lists dimensions innermost first; its reader reverses them.)
/// </remarks>
public sealed unsafe class TensorView
{
    public TensorView(string name, GgmlType type, long[] shape, byte* pointer, long byteLength)
    {
        Name = name;
        Type = type;
        Shape = shape;
        Pointer = pointer;
        ByteLength = byteLength;
    }

    public string Name { get; }
    public GgmlType Type { get; }
    /// <summary>Dimensions, outermost first.</summary>
    public long[] Shape { get; }
    public byte* Pointer { get; }
    public long ByteLength { get; }

    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Shape) n *= d;
            return n;
        }
    }

    /// <summary>Rows of a matrix seen as [rows, cols]: the product of all but the last dimension.</summary>
    public long Rows => Shape.Length == 0 ? 1 : ElementCount / Shape[^1];
    /// <summary>Values per row: the last (innermost) dimension.</summary>
    public long Columns => Shape.Length == 0 ? 1 : Shape[^1];
    public long RowBytes => GgmlTypeInfo.RowBytes(Type, Columns);

    public byte* Row(long row) => Pointer + row * RowBytes;

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";

    public override string ToString() => $"{Name} {Type} {ShapeText}";
}
