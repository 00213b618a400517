namespace QwenSharp.Tensors;

/// <summary>
/// How the KV cache stores keys and values: llama.cpp's cache types (its <c>-ctk/-ctv</c>), F16 the default as there.
/// Q8_0 is llama.cpp's block of 32 values with one fp16 scale (34 bytes), quantized on write as quantize_row_q8_0.
/// </summary>
public enum KvCacheType
{
    F16 = 0,
    F32,
    BF16,
    Q8_0,
}

/// <summary>Sizes and names of <see cref="KvCacheType"/>.</summary>
public static class KvCacheTypes
{
    /// <summary>The names <c>--kv-cache-dtype</c> takes, as llama.cpp spells them.</summary>
    public const string Names = "f32, f16, bf16, q8_0";

    /// <summary>Values in one Q8_0 block.</summary>
    public const int Q8Block = 32;
    /// <summary>Bytes of one Q8_0 block: the fp16 scale, then 32 signed bytes.</summary>
    public const int Q8BlockBytes = 34;

    /// <summary>Bytes that <paramref name="values"/> values take in the cache (a multiple of 32 for Q8_0).</summary>
    public static long Bytes(this KvCacheType type, long values) => type switch
    {
        KvCacheType.F32 => values * 4,
        KvCacheType.F16 or KvCacheType.BF16 => values * 2,
        _ => values / Q8Block * Q8BlockBytes,
    };

    /// <summary>The name as llama.cpp and <c>--kv-cache-dtype</c> spell it.</summary>
    public static string Name(this KvCacheType type) => type switch
    {
        KvCacheType.F32 => "f32",
        KvCacheType.BF16 => "bf16",
        KvCacheType.Q8_0 => "q8_0",
        _ => "f16",
    };

    /// <summary>Why a head size cannot use this type (Q8_0 blocks of 32 must not straddle heads), or null.</summary>
    public static string? Refusal(this KvCacheType type, int headDim) =>
        type == KvCacheType.Q8_0 && headDim % Q8Block != 0
            ? $"The q8_0 KV cache needs a head size that is a multiple of {Q8Block}; this model's is {headDim} (use f16, bf16 or f32)."
            : null;

    /// <summary>
    /// A cache type by name: llama.cpp's (f32, f16, bf16, q8_0), and with <paramref name="vllm"/> also vLLM's spellings
    /// of <c>--kv-cache-dtype</c> (auto: the default f16; fp16/float16, bfloat16, fp32/float32). Other names, vLLM's fp8
    /// ones among them, are refused naming the types there are.
    /// </summary>
    public static KvCacheType Parse(string name, bool vllm = false)
    {
        string n = name.Trim().ToLowerInvariant();
        KvCacheType? type = n switch
        {
            "f32" => KvCacheType.F32,
            "f16" => KvCacheType.F16,
            "bf16" => KvCacheType.BF16,
            "q8_0" => KvCacheType.Q8_0,
            _ => null,
        };
        if (type == null && vllm)
            type = n switch
            {
                "auto" or "fp16" or "float16" or "half" => KvCacheType.F16,
                "bfloat16" => KvCacheType.BF16,
                "fp32" or "float32" or "float" => KvCacheType.F32,
                _ => null,
            };
        return type ?? throw new ArgumentException(
            $"KV cache type '{name}' is not supported; the supported types are {Names}" + (vllm ? " (and vLLM's auto, fp16, bfloat16, fp32)." : "."));
    }
}
