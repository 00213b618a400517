using System.Runtime.InteropServices;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Kernels;

/// <summary>
/// llama.cpp's own ggml (the native libraries shipped in LLamaSharp.Backend.Cpu 0.30.0) called directly:
/// the reference quantizers and dequantizers of ggml-base, and ggml-cpu's type traits (the activation
/// converter from_float and the vec_dot kernels llama.cpp runs on this CPU).
/// </summary>
internal static unsafe class GgmlOracle
{
    [StructLayout(LayoutKind.Sequential)]
    private struct TypeTraitsCpu
    {
        public delegate* unmanaged<float*, void*, long, void> FromFloat;
        public delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void> VecDot;
        public int VecDotType;
        public long NRows;
    }

    private static readonly Lazy<(nint Base, nint Cpu)> Libraries = new(Load);

    private static (nint, nint) Load()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native");
        string variant = System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "avx512"
            : System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "avx2" : "noavx";
        string folder = Path.Combine(dir, variant);
        // linux-arm64 (the emulated runs of .ci/arm64-tests.sh): one build, ggml's NEON kernels.
        if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
            folder = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-arm64", "native");
        nint b = NativeLibrary.Load(Path.Combine(folder, "libggml-base.so"));
        nint c = NativeLibrary.Load(Path.Combine(folder, "libggml-cpu.so"));
        ((delegate* unmanaged<void>)NativeLibrary.GetExport(c, "ggml_cpu_init"))();
        return (b, c);
    }

    private static nint Base(string name) => NativeLibrary.GetExport(Libraries.Value.Base, name);
    private static nint Cpu(string name) => NativeLibrary.GetExport(Libraries.Value.Cpu, name);

    private static string Suffix(GgmlType t) => t.ToString().ToLowerInvariant().Replace("_k", "_K");

    /// <summary>ggml's quantize_row_*_ref (or the fp16/bf16 row converters).</summary>
    public static byte[] QuantizeRef(GgmlType type, float[] x)
    {
        var dst = new byte[GgmlTypeInfo.RowBytes(type, x.Length)];
        fixed (float* px = x)
        fixed (byte* pd = dst)
        {
            nint f = type switch
            {
                GgmlType.F16 => Base("ggml_fp32_to_fp16_row"),
                GgmlType.BF16 => Base("ggml_fp32_to_bf16_row_ref"),
                _ => Base($"quantize_row_{Suffix(type)}_ref"),
            };
            ((delegate* unmanaged<float*, void*, long, void>)f)(px, pd, x.Length);
        }
        return dst;
    }

    /// <summary>ggml_quantize_chunk without an importance matrix: what llama_model_quantize calls for each chunk of
    /// rows (quantize_q4_0 … quantize_iq4_xs; for most types the _ref rows, for IQ4_NL/IQ4_XS a fuller search).</summary>
    public static byte[] QuantizeChunk(GgmlType type, float[] x, int rows)
    {
        int cols = x.Length / rows;
        var dst = new byte[GgmlTypeInfo.RowBytes(type, cols) * rows];
        fixed (float* px = x)
        fixed (byte* pd = dst)
        {
            var f = (delegate* unmanaged<int, float*, void*, long, long, long, float*, nuint>)Base("ggml_quantize_chunk");
            f((int)type, px, pd, 0, rows, cols, null);
        }
        return dst;
    }

    /// <summary>ggml's dequantize_row_* (or fp16/bf16 → fp32).</summary>
    public static float[] Dequantize(GgmlType type, byte[] src, int n)
    {
        var dst = new float[n];
        fixed (byte* ps = src)
        fixed (float* pd = dst)
        {
            nint f = type switch
            {
                GgmlType.F16 => Base("ggml_fp16_to_fp32_row"),
                GgmlType.BF16 => Base("ggml_bf16_to_fp32_row"),
                _ => Base($"dequantize_row_{Suffix(type)}"),
            };
            ((delegate* unmanaged<void*, float*, long, void>)f)(ps, pd, n);
        }
        return dst;
    }

    private static TypeTraitsCpu* Traits(GgmlType type) =>
        ((delegate* unmanaged<int, TypeTraitsCpu*>)Cpu("ggml_get_type_traits_cpu"))((int)type);

    public static GgmlType VecDotType(GgmlType weightType) => (GgmlType)Traits(weightType)->VecDotType;

    /// <summary>The activation row llama.cpp's CPU backend builds for a weight type (from_float of its vec_dot_type).</summary>
    public static byte[] ActivationRow(GgmlType weightType, float[] x)
    {
        var actType = VecDotType(weightType);
        var dst = new byte[GgmlTypeInfo.RowBytes(actType, x.Length)];
        fixed (float* px = x)
        fixed (byte* pd = dst)
        {
            if (actType == GgmlType.F32) x.AsSpan().CopyTo(MemoryMarshal.Cast<byte, float>(dst.AsSpan()));
            else Traits(actType)->FromFloat(px, pd, x.Length);
        }
        return dst;
    }

    /// <summary>llama.cpp's vec_dot of a weight row with an activation row in the vec_dot_type.</summary>
    public static float VecDot(GgmlType weightType, byte[] w, byte[] a, int n)
    {
        float s;
        fixed (byte* pw = w)
        fixed (byte* pa = a)
            Traits(weightType)->VecDot(n, &s, 0, pw, 0, pa, 0, 1);
        return s;
    }
}
