namespace QwenSharp.Formats;

/// <summary>
/// A GGUF array value: one element type and a typed CLR array of the items (string[] for strings, int[] for
/// i32, GgufArray[] for nested arrays, and so on, following <see cref="GgufValueType"/>).
/// </summary>
public sealed class GgufArray
{
    public GgufArray(GgufValueType elementType, Array items)
    {
        Type expected = ClrType(elementType);
        if (items.GetType().GetElementType() != expected || items.Rank != 1)
            throw new ArgumentException($"A GGUF {GgufValueTypes.Name(elementType)} array needs a {expected.Name}[], not a {items.GetType().Name}.");
        ElementType = elementType;
        Items = items;
    }

    public GgufValueType ElementType { get; }
    public Array Items { get; }
    public int Count => Items.Length;

    public static GgufArray Of(string[] items) => new(GgufValueType.String, items);
    public static GgufArray Of(int[] items) => new(GgufValueType.Int32, items);
    public static GgufArray Of(uint[] items) => new(GgufValueType.UInt32, items);
    public static GgufArray Of(float[] items) => new(GgufValueType.Float32, items);
    public static GgufArray Of(long[] items) => new(GgufValueType.Int64, items);
    public static GgufArray Of(ulong[] items) => new(GgufValueType.UInt64, items);
    public static GgufArray Of(double[] items) => new(GgufValueType.Float64, items);
    public static GgufArray Of(bool[] items) => new(GgufValueType.Bool, items);
    public static GgufArray Of(byte[] items) => new(GgufValueType.UInt8, items);
    public static GgufArray Of(sbyte[] items) => new(GgufValueType.Int8, items);
    public static GgufArray Of(short[] items) => new(GgufValueType.Int16, items);
    public static GgufArray Of(ushort[] items) => new(GgufValueType.UInt16, items);
    public static GgufArray Of(GgufArray[] items) => new(GgufValueType.Array, items);

    internal static Type ClrType(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 => typeof(byte),
        GgufValueType.Int8 => typeof(sbyte),
        GgufValueType.UInt16 => typeof(ushort),
        GgufValueType.Int16 => typeof(short),
        GgufValueType.UInt32 => typeof(uint),
        GgufValueType.Int32 => typeof(int),
        GgufValueType.Float32 => typeof(float),
        GgufValueType.Bool => typeof(bool),
        GgufValueType.String => typeof(string),
        GgufValueType.Array => typeof(GgufArray),
        GgufValueType.UInt64 => typeof(ulong),
        GgufValueType.Int64 => typeof(long),
        GgufValueType.Float64 => typeof(double),
        _ => throw new ArgumentOutOfRangeException(nameof(type), $"{(uint)type} is not a GGUF value type."),
    };

    public override string ToString() => $"[{GgufValueTypes.Name(ElementType)} × {Count}]";
}
