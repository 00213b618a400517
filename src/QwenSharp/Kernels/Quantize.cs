using System.Runtime.Intrinsics;
using QwenSharp.Tensors;
using static QwenSharp.Kernels.FloatFormats;

namespace QwenSharp.Kernels;

/// <summary>
/// Float → block formats, byte for byte as ggml's quantizers without an importance matrix (quantize_row_*_ref in
/// ggml-quants.c; for IQ4_NL and IQ4_XS the quantize_iq4_* that ggml_quantize_chunk calls, whose scale search the
/// _ref rows skip): what llama-quantize and the GGUF writer produce for weights.
/// Activations for the integer dot products use <see cref="ActivationQuantizer"/>, which follows ggml-cpu instead.
/// </summary>
public static unsafe partial class Quantize
{
    /// <summary>Whether the K-quant scale searches run eight sub-blocks per vector (QuantizeKLanes.cs) rather than
    /// through their plain twins: the x86 tiers, where Vector256 is hardware-accelerated.</summary>
    internal static readonly bool KLanes = KernelTiers.X86 && Vector256.IsHardwareAccelerated;

    /// <summary>Quantizes <c>src.Length</c> values (a whole number of blocks) into <paramref name="dst"/>.</summary>
    public static void Row(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst) => Row(type, src, dst, KLanes);

    /// <summary><see cref="Row(GgmlType, ReadOnlySpan{float}, Span{byte})"/> with the K-quant searches' plain twins
    /// (<paramref name="lanes"/> false) or lane kernels chosen by the caller: what the tests compare.</summary>
    internal static void Row(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst, bool lanes)
    {
        int n = src.Length;
        long need = GgmlTypeInfo.RowBytes(type, n);
        if (dst.Length < need)
            throw new ArgumentException($"A {type} row of {n} values needs {need} bytes; the destination has {dst.Length}.");
        fixed (float* x = src)
        fixed (byte* y = dst)
        {
            switch (type)
            {
                case GgmlType.F32: src.CopyTo(new Span<float>(y, n)); break;
                case GgmlType.F16: for (int i = 0; i < n; i++) ((ushort*)y)[i] = SingleToHalf(x[i]); break;
                case GgmlType.BF16: for (int i = 0; i < n; i++) ((ushort*)y)[i] = SingleToBFloat16(x[i]); break;
                case GgmlType.Q4_0: for (int b = 0; b < n / 32; b++) Q4_0(x + b * 32, (BlockQ4_0*)y + b); break;
                case GgmlType.Q4_1: for (int b = 0; b < n / 32; b++) Q4_1(x + b * 32, (BlockQ4_1*)y + b); break;
                case GgmlType.Q5_0: for (int b = 0; b < n / 32; b++) Q5_0(x + b * 32, (BlockQ5_0*)y + b); break;
                case GgmlType.Q5_1: for (int b = 0; b < n / 32; b++) Q5_1(x + b * 32, (BlockQ5_1*)y + b); break;
                case GgmlType.Q8_0: for (int b = 0; b < n / 32; b++) Q8_0(x + b * 32, (BlockQ8_0*)y + b); break;
                case GgmlType.Q4_K: for (int b = 0; b < n / 256; b++) Q4_K(x + b * 256, (BlockQ4_K*)y + b, lanes); break;
                case GgmlType.Q5_K: for (int b = 0; b < n / 256; b++) Q5_K(x + b * 256, (BlockQ5_K*)y + b, lanes); break;
                case GgmlType.Q6_K: for (int b = 0; b < n / 256; b++) Q6_K(x + b * 256, (BlockQ6_K*)y + b, lanes); break;
                case GgmlType.Q2_K: for (int b = 0; b < n / 256; b++) Q2_K(x + b * 256, (BlockQ2_K*)y + b); break;
                case GgmlType.Q3_K: for (int b = 0; b < n / 256; b++) Q3_K(x + b * 256, (BlockQ3_K*)y + b); break;
                case GgmlType.IQ4_NL: for (int b = 0; b < n / 32; b++) IQ4_NL(x + b * 32, (BlockIQ4_NL*)y + b); break;
                case GgmlType.IQ4_XS: for (int b = 0; b < n / 256; b++) IQ4_XS(x + b * 256, (BlockIQ4_XS*)y + b); break;
                default: throw new NotSupportedException($"Quantizing to {type} is not supported (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS).");
            }
        }
    }

    // C's (int8_t) cast of a float truncates toward zero, as C#'s (int) does.
    private static void Q4_0(float* x, BlockQ4_0* y)
    {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
        {
            float v = x[j];
            if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
        }
        float d = max / -8;
        float id = d != 0 ? 1.0f / d : 0.0f;
        y->D = SingleToHalf(d);
        byte* qs = (byte*)&y->Qs;
        for (int j = 0; j < 16; j++)
        {
            int xi0 = Math.Min(15, (int)(sbyte)(int)(x[j] * id + 8.5f));
            int xi1 = Math.Min(15, (int)(sbyte)(int)(x[16 + j] * id + 8.5f));
            qs[j] = (byte)(xi0 | (xi1 << 4));
        }
    }

    private static void Q4_1(float* x, BlockQ4_1* y)
    {
        float min = float.MaxValue, max = -float.MaxValue;
        for (int j = 0; j < 32; j++)
        {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        float d = (max - min) / 15;
        float id = d != 0 ? 1.0f / d : 0.0f;
        y->D = SingleToHalf(d);
        y->M = SingleToHalf(min);
        byte* qs = (byte*)&y->Qs;
        for (int j = 0; j < 16; j++)
        {
            int xi0 = Math.Min(15, (int)(sbyte)(int)((x[j] - min) * id + 0.5f));
            int xi1 = Math.Min(15, (int)(sbyte)(int)((x[16 + j] - min) * id + 0.5f));
            qs[j] = (byte)(xi0 | (xi1 << 4));
        }
    }

    private static void Q5_0(float* x, BlockQ5_0* y)
    {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
        {
            float v = x[j];
            if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
        }
        float d = max / -16;
        float id = d != 0 ? 1.0f / d : 0.0f;
        y->D = SingleToHalf(d);
        byte* qs = (byte*)&y->Qs;
        uint qh = 0;
        for (int j = 0; j < 16; j++)
        {
            int xi0 = Math.Min(31, (int)(sbyte)(int)(x[j] * id + 16.5f));
            int xi1 = Math.Min(31, (int)(sbyte)(int)(x[16 + j] * id + 16.5f));
            qs[j] = (byte)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
            qh |= (uint)((xi0 & 0x10) >> 4) << j;
            qh |= (uint)((xi1 & 0x10) >> 4) << (j + 16);
        }
        y->Qh = qh;
    }

    private static void Q5_1(float* x, BlockQ5_1* y)
    {
        float min = float.MaxValue, max = -float.MaxValue;
        for (int j = 0; j < 32; j++)
        {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        float d = (max - min) / 31;
        float id = d != 0 ? 1.0f / d : 0.0f;
        y->D = SingleToHalf(d);
        y->M = SingleToHalf(min);
        byte* qs = (byte*)&y->Qs;
        uint qh = 0;
        for (int j = 0; j < 16; j++)
        {
            int xi0 = (byte)(int)((x[j] - min) * id + 0.5f);
            int xi1 = (byte)(int)((x[16 + j] - min) * id + 0.5f);
            qs[j] = (byte)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
            qh |= (uint)((xi0 & 0x10) >> 4) << j;
            qh |= (uint)((xi1 & 0x10) >> 4) << (j + 16);
        }
        y->Qh = qh;
    }

    private static void Q8_0(float* x, BlockQ8_0* y)
    {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
        float d = amax / 127;
        float id = d != 0 ? 1.0f / d : 0.0f;
        y->D = SingleToHalf(d);
        sbyte* qs = (sbyte*)&y->Qs;
        // roundf: halves away from zero.
        for (int j = 0; j < 32; j++) qs[j] = (sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
    }
}
