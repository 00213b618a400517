using QwenSharp.Tensors;
using static QwenSharp.Kernels.FloatFormats;

namespace QwenSharp.Kernels;

/// <summary>
/// Block formats → float, value for value as ggml's dequantize_row_* (ggml-quants.c) computes them.
/// Used for embedding rows, the exact matmul path and tests; the default matmul never expands whole matrices.
/// </summary>
public static unsafe partial class Dequantize
{
    /// <summary>Dequantizes <c>dst.Length</c> values (a whole number of blocks) read from <paramref name="src"/>.</summary>
    public static void Row(GgmlType type, byte* src, Span<float> dst)
    {
        int n = dst.Length;
        int bs = GgmlTypeInfo.BlockSize(type);
        if (n % bs != 0)
            throw new ArgumentException($"Cannot dequantize {n} values of {type}: not a whole number of blocks of {bs}.");
        fixed (float* y = dst)
        {
            switch (type)
            {
                case GgmlType.F32: new ReadOnlySpan<float>(src, n).CopyTo(dst); break;
                case GgmlType.F16: for (int i = 0; i < n; i++) y[i] = HalfToSingle(((ushort*)src)[i]); break;
                case GgmlType.BF16: for (int i = 0; i < n; i++) y[i] = BFloat16ToSingle(((ushort*)src)[i]); break;
                case GgmlType.Q4_0: for (int b = 0; b < n / 32; b++) Q4_0((BlockQ4_0*)src + b, y + b * 32); break;
                case GgmlType.Q4_1: for (int b = 0; b < n / 32; b++) Q4_1((BlockQ4_1*)src + b, y + b * 32); break;
                case GgmlType.Q5_0: for (int b = 0; b < n / 32; b++) Q5_0((BlockQ5_0*)src + b, y + b * 32); break;
                case GgmlType.Q5_1: for (int b = 0; b < n / 32; b++) Q5_1((BlockQ5_1*)src + b, y + b * 32); break;
                case GgmlType.Q8_0: for (int b = 0; b < n / 32; b++) Q8_0((BlockQ8_0*)src + b, y + b * 32); break;
                case GgmlType.Q2_K: for (int b = 0; b < n / 256; b++) Q2_K((BlockQ2_K*)src + b, y + b * 256); break;
                case GgmlType.Q3_K: for (int b = 0; b < n / 256; b++) Q3_K((BlockQ3_K*)src + b, y + b * 256); break;
                case GgmlType.Q4_K: for (int b = 0; b < n / 256; b++) Q4_K((BlockQ4_K*)src + b, y + b * 256); break;
                case GgmlType.Q5_K: for (int b = 0; b < n / 256; b++) Q5_K((BlockQ5_K*)src + b, y + b * 256); break;
                case GgmlType.Q6_K: for (int b = 0; b < n / 256; b++) Q6_K((BlockQ6_K*)src + b, y + b * 256); break;
                case GgmlType.IQ4_NL: for (int b = 0; b < n / 32; b++) IQ4_NL((BlockIQ4_NL*)src + b, y + b * 32); break;
                case GgmlType.IQ4_XS: for (int b = 0; b < n / 256; b++) IQ4_XS((BlockIQ4_XS*)src + b, y + b * 256); break;
                default: throw new NotSupportedException($"Dequantizing {type} is not supported.");
            }
        }
    }

    internal static void Q4_0(BlockQ4_0* b, float* y)
    {
        float d = HalfToSingle(b->D);
        byte* qs = (byte*)&b->Qs;
        for (int j = 0; j < 16; j++)
        {
            y[j] = ((qs[j] & 0x0F) - 8) * d;
            y[j + 16] = ((qs[j] >> 4) - 8) * d;
        }
    }

    internal static void Q4_1(BlockQ4_1* b, float* y)
    {
        float d = HalfToSingle(b->D), m = HalfToSingle(b->M);
        byte* qs = (byte*)&b->Qs;
        for (int j = 0; j < 16; j++)
        {
            y[j] = (qs[j] & 0x0F) * d + m;
            y[j + 16] = (qs[j] >> 4) * d + m;
        }
    }

    internal static void Q5_0(BlockQ5_0* b, float* y)
    {
        float d = HalfToSingle(b->D);
        uint qh = b->Qh;
        byte* qs = (byte*)&b->Qs;
        for (int j = 0; j < 16; j++)
        {
            int xh0 = (int)(((qh >> j) << 4) & 0x10);
            int xh1 = (int)((qh >> (j + 12)) & 0x10);
            y[j] = (((qs[j] & 0x0F) | xh0) - 16) * d;
            y[j + 16] = (((qs[j] >> 4) | xh1) - 16) * d;
        }
    }

    internal static void Q5_1(BlockQ5_1* b, float* y)
    {
        float d = HalfToSingle(b->D), m = HalfToSingle(b->M);
        uint qh = b->Qh;
        byte* qs = (byte*)&b->Qs;
        for (int j = 0; j < 16; j++)
        {
            int xh0 = (int)(((qh >> j) << 4) & 0x10);
            int xh1 = (int)((qh >> (j + 12)) & 0x10);
            y[j] = ((qs[j] & 0x0F) | xh0) * d + m;
            y[j + 16] = ((qs[j] >> 4) | xh1) * d + m;
        }
    }

    internal static void Q8_0(BlockQ8_0* b, float* y)
    {
        float d = HalfToSingle(b->D);
        sbyte* qs = (sbyte*)&b->Qs;
        for (int j = 0; j < 32; j++) y[j] = qs[j] * d;
    }
}
