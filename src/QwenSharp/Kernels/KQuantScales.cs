using System.Runtime.CompilerServices;

namespace QwenSharp.Kernels;

/// <summary>Unpacking of the packed sub-block scales of the K-quants (ggml-quants.c: get_scale_min_k4, and
/// the kmask shuffle of dequantize_row_q3_K).</summary>
internal static unsafe class KQuantScales
{
    /// <summary>Scale and min of sub-block <paramref name="j"/> (0..7) from Q4_K/Q5_K's 12 packed bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScaleMinK4(int j, byte* q, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = q[j] & 63;
            min = q[j + 4] & 63;
        }
        else
        {
            scale = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
            min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }

    /// <summary>Q3_K's 16 six-bit scales (still biased by 32) from its 12 packed bytes.</summary>
    public static void UnpackQ3K(byte* packed, sbyte* scales16)
    {
        const uint kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
        uint a0 = Unsafe.ReadUnaligned<uint>(packed);
        uint a1 = Unsafe.ReadUnaligned<uint>(packed + 4);
        uint tmp = Unsafe.ReadUnaligned<uint>(packed + 8);
        uint* aux = (uint*)scales16;
        aux[2] = ((a0 >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
        aux[3] = ((a1 >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
        aux[0] = (a0 & kmask2) | (((tmp >> 0) & kmask1) << 4);
        aux[1] = (a1 & kmask2) | (((tmp >> 2) & kmask1) << 4);
    }
}
