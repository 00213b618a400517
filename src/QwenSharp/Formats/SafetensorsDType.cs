using QwenSharp.Tensors;

namespace QwenSharp.Formats;

/// <summary>The safetensors dtype strings this runtime reads and writes, and their ggml equivalents.</summary>
public static class SafetensorsDType
{
    /// <summary>F32, F16 and BF16 map to their ggml types; any other dtype (I64, F8_E4M3, …) is not a weight format here.</summary>
    public static bool TryParse(string dtype, out GgmlType type)
    {
        switch (dtype)
        {
            case "F32": type = GgmlType.F32; return true;
            case "F16": type = GgmlType.F16; return true;
            case "BF16": type = GgmlType.BF16; return true;
            default: type = default; return false;
        }
    }

    /// <summary>The dtype string of a ggml type that safetensors can hold; quantized types have none.</summary>
    public static string Name(GgmlType type) => type switch
    {
        GgmlType.F32 => "F32",
        GgmlType.F16 => "F16",
        GgmlType.BF16 => "BF16",
        _ => throw new ArgumentException($"Safetensors holds F32, F16 and BF16 tensors, not {type}."),
    };

    public const string Supported = "F32, F16, BF16";
}
