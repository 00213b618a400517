using System.Runtime.CompilerServices;

namespace QwenSharp.Kernels;

/// <summary>
/// Scalar conversions between float and the 16-bit formats, rounding as ggml does: fp32 → fp16 rounds to
/// nearest even (IEEE, as F16C and ggml_compute_fp32_to_fp16 do); fp32 → bf16 is ggml_compute_fp32_to_bf16
/// (round to nearest even on the upper 16 bits, NaN kept quiet by setting bit 6).
/// </summary>
public static unsafe class FloatFormats
{
    /// <summary>fp16 → fp32 for all 65536 patterns (256 KB), as ggml's table: the quantized kernels convert two block
    /// scales per 32 values, and a lookup is cheaper than the software conversion.</summary>
    internal static readonly float* HalfTable = BuildHalfTable();

    private static float* BuildHalfTable()
    {
        var t = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(65536 * sizeof(float), 64);
        for (int i = 0; i < 65536; i++) t[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return t;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HalfToSingle(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort SingleToHalf(float value) => BitConverter.HalfToUInt16Bits((Half)value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float BFloat16ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort SingleToBFloat16(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if ((u & 0x7fffffff) > 0x7f800000) return (ushort)((u >> 16) | 64);
        return (ushort)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
    }

    /// <summary>ggml's nearest_int: adds 1.5·2^23 so the FPU rounds to nearest even, then reads the mantissa.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int NearestInt(float value)
    {
        float v = value + 12582912f;
        return (int)(BitConverter.SingleToUInt32Bits(v) & 0x007fffff) - 0x00400000;
    }
}
