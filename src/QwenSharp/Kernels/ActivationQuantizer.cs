using System.Runtime.CompilerServices;
using QwenSharp.Tensors;
using static QwenSharp.Kernels.FloatFormats;

namespace QwenSharp.Kernels;

/// <summary>
/// Converts activations into the format each weight type is multiplied against, as llama.cpp's CPU backend does
/// (the <c>vec_dot_type</c> and <c>from_float</c> of ggml-cpu's type traits, x86 build):
/// F32 → F32; F16 → F16 (round to nearest even); BF16 → BF16; Q4_0, Q5_0, Q8_0, IQ4_NL → Q8_0; Q4_1, Q5_1 → Q8_1;
/// the K-quants and IQ4_XS → Q8_K.
/// Q8_0/Q8_1 follow ggml-cpu's AVX quantize_row_q8_0/_q8_1 (not the _ref): scale 127/amax applied by
/// multiplication and rounding half to even; Q8_K is quantize_row_q8_K_ref (scale -127/max, nearest_int).
/// </summary>
public static unsafe class ActivationQuantizer
{
    /// <summary>The activation format llama.cpp pairs with a weight format.</summary>
    public static GgmlType VecDotType(GgmlType weightType) => weightType switch
    {
        GgmlType.F32 => GgmlType.F32,
        GgmlType.F16 => GgmlType.F16,
        GgmlType.BF16 => GgmlType.BF16,
        GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 or GgmlType.IQ4_NL => GgmlType.Q8_0,
        GgmlType.Q4_1 or GgmlType.Q5_1 => GgmlType.Q8_1,
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.IQ4_XS => GgmlType.Q8_K,
        _ => throw new NotSupportedException($"No matrix multiplication for {weightType} weights."),
    };

    /// <summary>Writes <paramref name="n"/> activations <paramref name="x"/> as a row of <paramref name="type"/>.</summary>
    public static void Row(GgmlType type, float* x, byte* dst, int n)
    {
        switch (type)
        {
            case GgmlType.F32: new ReadOnlySpan<float>(x, n).CopyTo(new Span<float>(dst, n)); break;
            case GgmlType.F16: TensorPrimitivesHalf(x, (ushort*)dst, n); break;
            case GgmlType.BF16: for (int i = 0; i < n; i++) ((ushort*)dst)[i] = SingleToBFloat16(x[i]); break;
            case GgmlType.Q8_0: for (int b = 0; b < n / 32; b++) Q8_0(x + 32 * b, (BlockQ8_0*)dst + b); break;
            case GgmlType.Q8_1: for (int b = 0; b < n / 32; b++) Q8_1(x + 32 * b, (BlockQ8_1*)dst + b); break;
            case GgmlType.Q8_K: for (int b = 0; b < n / 256; b++) Q8_K(x + 256 * b, (BlockQ8_K*)dst + b); break;
            default: throw new NotSupportedException($"{type} is not an activation format.");
        }
    }

    // TensorPrimitives' float → Half conversion rounds to nearest even, like F16C's vcvtps2ph with mode 0.
    private static void TensorPrimitivesHalf(float* x, ushort* dst, int n) =>
        System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(new ReadOnlySpan<float>(x, n), new Span<Half>(dst, n));

    private static float ScaleQ8(float* x, sbyte* qs, out int sum)
    {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
        float id = amax != 0 ? 127f / amax : 0f;
        int s = 0;
        for (int j = 0; j < 32; j++)
        {
            int q = (int)MathF.Round(x[j] * id, MidpointRounding.ToEven);
            qs[j] = (sbyte)q;
            s += q;
        }
        sum = s;
        return amax / 127f;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Q8_0(float* x, BlockQ8_0* y)
    {
        float d = ScaleQ8(x, (sbyte*)&y->Qs, out _);
        y->D = SingleToHalf(d);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Q8_1(float* x, BlockQ8_1* y)
    {
        float d = ScaleQ8(x, (sbyte*)&y->Qs, out int sum);
        y->D = SingleToHalf(d);
        y->S = SingleToHalf(d * sum);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Q8_K(float* x, BlockQ8_K* y)
    {
        sbyte* qs = (sbyte*)&y->Qs;
        short* bsums = (short*)&y->BSums;
        float max = 0, amax = 0;
        for (int j = 0; j < 256; j++)
        {
            float ax = MathF.Abs(x[j]);
            if (ax > amax) { amax = ax; max = x[j]; }
        }
        if (amax == 0)
        {
            y->D = 0;
            new Span<byte>(qs, 256).Clear();
            new Span<short>(bsums, 16).Clear();
            return;
        }
        float iscale = -127f / max;
        for (int j = 0; j < 256; j++) qs[j] = (sbyte)Math.Min(127, NearestInt(iscale * x[j]));
        for (int j = 0; j < 16; j++)
        {
            int sum = 0;
            for (int i = 0; i < 16; i++) sum += qs[j * 16 + i];
            bsums[j] = (short)sum;
        }
        y->D = 1 / iscale;
    }
}
