namespace QwenSharp.Tensors;

/// <summary>
/// Element and block formats of weights, numbered as ggml numbers them (the GGUF tensor-info type field).
/// Safetensors dtypes map onto F32, F16 and BF16.
/// </summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ4_NL = 20,
    IQ4_XS = 23,
    BF16 = 30,
}

/// <summary>Block geometry of each format: values per block and bytes per block (ggml's type traits).</summary>
public static class GgmlTypeInfo
{
    /// <summary>Values per block: 1 for plain floats, 32 for the legacy quants, 256 for the K-quants.</summary>
    public static int BlockSize(GgmlType type) => type switch
    {
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 => 1,
        GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 or GgmlType.Q8_1 or GgmlType.IQ4_NL => 32,
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K or GgmlType.IQ4_XS => 256,
        _ => throw new NotSupportedException($"Unsupported tensor type {(uint)type}."),
    };

    /// <summary>Bytes per block, from ggml's block structs (ggml-common.h).</summary>
    public static int BlockBytes(GgmlType type) => type switch
    {
        GgmlType.F32 => 4,
        GgmlType.F16 => 2,
        GgmlType.BF16 => 2,
        GgmlType.Q4_0 => 2 + 16,            // d (f16), 32 nibbles
        GgmlType.Q4_1 => 2 + 2 + 16,        // d, m, 32 nibbles
        GgmlType.Q5_0 => 2 + 4 + 16,        // d, high bits, 32 nibbles
        GgmlType.Q5_1 => 2 + 2 + 4 + 16,    // d, m, high bits, 32 nibbles
        GgmlType.Q8_0 => 2 + 32,            // d, 32 int8
        GgmlType.Q8_1 => 2 + 2 + 32,        // d, s, 32 int8
        GgmlType.Q2_K => 16 + 64 + 2 + 2,
        GgmlType.Q3_K => 32 + 64 + 12 + 2,
        GgmlType.Q4_K => 2 + 2 + 12 + 128,  // d, dmin, 12 bytes of 6-bit scales/mins, 256 nibbles
        GgmlType.Q5_K => 2 + 2 + 12 + 32 + 128,
        GgmlType.Q6_K => 128 + 64 + 16 + 2, // ql, qh, scales, d
        GgmlType.Q8_K => 4 + 256 + 32,      // d (f32), 256 int8, 16 int16 block sums
        GgmlType.IQ4_NL => 2 + 16,          // d, 32 nibbles indexing the non-linear grid
        GgmlType.IQ4_XS => 2 + 2 + 4 + 128, // d, high 2 bits of 8 scales, low 4 bits of 8 scales, 256 nibbles
        _ => throw new NotSupportedException($"Unsupported tensor type {(uint)type}."),
    };

    public static bool IsKnown(GgmlType type) => Enum.IsDefined(type);

    /// <summary>The weight formats a model file may hold here, for messages.</summary>
    public static string WeightTypeList =>
        "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS";

    /// <summary>ggml's name for a type id (ggml.h's enum ggml_type), also for the types this runtime does not read,
    /// so that a refusal can say which format a file holds; null for an id ggml does not define.</summary>
    public static string? GgmlName(uint id) => id switch
    {
        _ when IsKnown((GgmlType)id) => ((GgmlType)id).ToString(),
        16 => "IQ2_XXS",
        17 => "IQ2_XS",
        18 => "IQ3_XXS",
        19 => "IQ1_S",
        21 => "IQ3_S",
        22 => "IQ2_S",
        24 => "I8",
        25 => "I16",
        26 => "I32",
        27 => "I64",
        28 => "F64",
        29 => "IQ1_M",
        34 => "TQ1_0",
        35 => "TQ2_0",
        39 => "MXFP4",
        _ => null,
    };

    /// <summary>Bytes of a row of <paramref name="count"/> values; the count must be a whole number of blocks.</summary>
    public static long RowBytes(GgmlType type, long count)
    {
        int bs = BlockSize(type);
        if (count % bs != 0)
            throw new ArgumentException($"A row of {count} values is not a whole number of {type} blocks of {bs}.");
        return count / bs * BlockBytes(type);
    }

    public static string Name(GgmlType type) => type.ToString();
}
