using QwenSharp.Tensors;

namespace QwenSharp.Quantization;

/// <summary>
/// The file types `qwensharp quantize` writes, named and numbered as llama.cpp's llama_ftype (LLAMA_FTYPE_*, the
/// value stored in <c>general.file_type</c>) and spelled as llama-quantize spells them on its command line.
/// </summary>
public enum QuantizeFileType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q8_0 = 7,
    Q5_0 = 8,
    Q5_1 = 9,
    Q2_K = 10,
    Q3_K_S = 11,
    Q3_K_M = 12,
    Q3_K_L = 13,
    Q4_K_S = 14,
    Q4_K_M = 15,
    Q5_K_S = 16,
    Q5_K_M = 17,
    Q6_K = 18,
    IQ4_NL = 25,
    IQ4_XS = 30,
    BF16 = 32,
}

public static class QuantizeFileTypes
{
    /// <summary>The types llama-quantize knows that are not written here yet.</summary>
    private static readonly string[] NotYet =
        ["Q2_K_S", "IQ3_XXS", "IQ3_XS", "IQ3_S", "IQ3_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ1_S", "IQ1_M", "TQ1_0", "TQ2_0", "MXFP4_MOE", "COPY"];

    public static IReadOnlyList<QuantizeFileType> All { get; } = Enum.GetValues<QuantizeFileType>();

    public static string Supported => string.Join(", ", All);

    /// <summary>Parses a llama-quantize type name (case-insensitive) or its ftype number.</summary>
    public static QuantizeFileType Parse(string text)
    {
        string upper = text.Trim().ToUpperInvariant();
        // llama-quantize's aliases: Q3_K, Q4_K and Q5_K are its _M mixtures.
        if (upper == "Q3_K") return QuantizeFileType.Q3_K_M;
        if (upper == "Q4_K") return QuantizeFileType.Q4_K_M;
        if (upper == "Q5_K") return QuantizeFileType.Q5_K_M;
        foreach (var t in All)
            if (t.ToString() == upper || ((uint)t).ToString() == upper) return t;
        if (NotYet.Contains(upper))
            throw new ArgumentException($"Quantization type {text} is not supported yet; supported: {Supported}.");
        throw new ArgumentException($"{text} is not a quantization type; supported: {Supported}.");
    }

    /// <summary>The type most weight matrices get (llama_ftype_get_default_type).</summary>
    public static GgmlType DefaultType(QuantizeFileType ftype) => ftype switch
    {
        QuantizeFileType.F32 => GgmlType.F32,
        QuantizeFileType.F16 => GgmlType.F16,
        QuantizeFileType.BF16 => GgmlType.BF16,
        QuantizeFileType.Q4_0 => GgmlType.Q4_0,
        QuantizeFileType.Q4_1 => GgmlType.Q4_1,
        QuantizeFileType.Q5_0 => GgmlType.Q5_0,
        QuantizeFileType.Q5_1 => GgmlType.Q5_1,
        QuantizeFileType.Q8_0 => GgmlType.Q8_0,
        QuantizeFileType.Q2_K => GgmlType.Q2_K,
        QuantizeFileType.Q3_K_S or QuantizeFileType.Q3_K_M or QuantizeFileType.Q3_K_L => GgmlType.Q3_K,
        QuantizeFileType.Q4_K_S or QuantizeFileType.Q4_K_M => GgmlType.Q4_K,
        QuantizeFileType.Q5_K_S or QuantizeFileType.Q5_K_M => GgmlType.Q5_K,
        QuantizeFileType.Q6_K => GgmlType.Q6_K,
        QuantizeFileType.IQ4_NL => GgmlType.IQ4_NL,
        QuantizeFileType.IQ4_XS => GgmlType.IQ4_XS,
        _ => throw new ArgumentOutOfRangeException(nameof(ftype), ftype, null),
    };

    /// <summary>Parses a tensor type for --output-tensor-type / --token-embedding-type (ggml type names).</summary>
    public static GgmlType ParseTensorType(string text)
    {
        foreach (var t in Enum.GetValues<GgmlType>())
            if (string.Equals(t.ToString(), text.Trim(), StringComparison.OrdinalIgnoreCase) && t is not (GgmlType.Q8_1 or GgmlType.Q8_K))
                return t;
        throw new ArgumentException($"{text} is not a tensor type written here; supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS.");
    }
}
