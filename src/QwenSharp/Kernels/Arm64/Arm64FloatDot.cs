using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels.Arm64;

/// <summary>
/// One F32, F16 or BF16 weight row · f32 activations (already rounded to the weight's format, see
/// <see cref="FloatDot.RoundActivations"/>): the ARM64 twin of <see cref="FloatDot"/>'s and <see cref="HalfDot"/>'s
/// one-token loops, converting the weights in registers. .NET 10 exposes no fp16 conversion on ARM64 (fcvtl), so a
/// half becomes a float by bits: sshll #13 of the half as int16 puts its exponent|mantissa at bits 27..13 and copies
/// its sign into bits 31..28; and-ing with 0x8FFFFFFF keeps the sign at bit 31 only, and multiplying by 2^112
/// re-biases the exponent from 15 to 127, exact for normals and subnormals alike. Exponent 31 (inf, NaN) would come
/// out finite, so the loop keeps the largest exponent|mantissa seen and a row holding one is redone by the scalar
/// twin (weights never hold them; the answer stays right if they do). BF16 is the top half of an f32: zip1/zip2 with
/// zeros (ushll cannot shift by 16).
/// Four accumulators, 32 values a step; ggml's NEON f16 dot accumulates the same way in f32 (or in fp16 on CPUs with
/// fp16 arithmetic, which .NET cannot use).
/// </summary>
internal static unsafe class Arm64FloatDot
{
    public static float One(GgmlType type, byte* w, float* a, int n) => type switch
    {
        GgmlType.F16 => Half((ushort*)w, a, n),
        GgmlType.BF16 => BFloat16((ushort*)w, a, n),
        _ => Single((float*)w, a, n),
    };

    // The loops step pointers rather than an index: an int index costs a sign extension and a shift per address.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Single(float* w, float* a, int n)
    {
        Vector128<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        float* end = w + (n & ~15);
        for (; w < end; w += 16, a += 16)
        {
            acc0 = AdvSimd.FusedMultiplyAdd(acc0, AdvSimd.LoadVector128(w), AdvSimd.LoadVector128(a));
            acc1 = AdvSimd.FusedMultiplyAdd(acc1, AdvSimd.LoadVector128(w + 4), AdvSimd.LoadVector128(a + 4));
            acc2 = AdvSimd.FusedMultiplyAdd(acc2, AdvSimd.LoadVector128(w + 8), AdvSimd.LoadVector128(a + 8));
            acc3 = AdvSimd.FusedMultiplyAdd(acc3, AdvSimd.LoadVector128(w + 12), AdvSimd.LoadVector128(a + 12));
        }
        float sum = Vector128.Sum(AdvSimd.Add(AdvSimd.Add(acc0, acc1), AdvSimd.Add(acc2, acc3)));
        for (int i = 0; i < (n & 15); i++) sum += w[i] * a[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float BFloat16(ushort* w, float* a, int n)
    {
        var zero = Vector128<ushort>.Zero;
        Vector128<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        ushort* end = w + (n & ~15);
        for (; w < end; w += 16, a += 16)
        {
            var h0 = AdvSimd.LoadVector128(w);
            var h1 = AdvSimd.LoadVector128(w + 8);
            acc0 = AdvSimd.FusedMultiplyAdd(acc0, AdvSimd.Arm64.ZipLow(zero, h0).AsSingle(), AdvSimd.LoadVector128(a));
            acc1 = AdvSimd.FusedMultiplyAdd(acc1, AdvSimd.Arm64.ZipHigh(zero, h0).AsSingle(), AdvSimd.LoadVector128(a + 4));
            acc2 = AdvSimd.FusedMultiplyAdd(acc2, AdvSimd.Arm64.ZipLow(zero, h1).AsSingle(), AdvSimd.LoadVector128(a + 8));
            acc3 = AdvSimd.FusedMultiplyAdd(acc3, AdvSimd.Arm64.ZipHigh(zero, h1).AsSingle(), AdvSimd.LoadVector128(a + 12));
        }
        float sum = Vector128.Sum(AdvSimd.Add(AdvSimd.Add(acc0, acc1), AdvSimd.Add(acc2, acc3)));
        for (int i = 0; i < (n & 15); i++) sum += FloatFormats.BFloat16ToSingle(w[i]) * a[i];
        return sum;
    }

    /// <summary>Four halves, already widened by sshll #13, as floats (see the class remarks).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Widen(Vector128<int> shifted, Vector128<int> keep, Vector128<float> rebias) =>
        AdvSimd.Multiply(AdvSimd.And(shifted, keep).AsSingle(), rebias);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Half(ushort* w, float* a, int n)
    {
        var keep = Vector128.Create(unchecked((int)0x8FFFFFFF));
        var rebias = Vector128.Create(5.192296858534828e33f); // 2^112
        var magnitude = Vector128.Create((ushort)0x7FFF);
        var top = Vector128<ushort>.Zero;
        Vector128<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        ushort* p = w, end = w + (n & ~15);
        float* q = a;
        for (; p < end; p += 16, q += 16)
        {
            var h0 = AdvSimd.LoadVector128(p);
            var h1 = AdvSimd.LoadVector128(p + 8);
            top = AdvSimd.Max(top, AdvSimd.Max(AdvSimd.And(h0, magnitude), AdvSimd.And(h1, magnitude)));
            var s0 = h0.AsInt16();
            var s1 = h1.AsInt16();
            acc1 = AdvSimd.FusedMultiplyAdd(acc1, Widen(AdvSimd.ShiftLeftLogicalWideningUpper(s0, 13), keep, rebias), AdvSimd.LoadVector128(q + 4));
            acc0 = AdvSimd.FusedMultiplyAdd(acc0, Widen(AdvSimd.ShiftLeftLogicalWideningLower(s0.GetLower(), 13), keep, rebias), AdvSimd.LoadVector128(q));
            acc3 = AdvSimd.FusedMultiplyAdd(acc3, Widen(AdvSimd.ShiftLeftLogicalWideningUpper(s1, 13), keep, rebias), AdvSimd.LoadVector128(q + 12));
            acc2 = AdvSimd.FusedMultiplyAdd(acc2, Widen(AdvSimd.ShiftLeftLogicalWideningLower(s1.GetLower(), 13), keep, rebias), AdvSimd.LoadVector128(q + 8));
        }
        float sum = Vector128.Sum(AdvSimd.Add(AdvSimd.Add(acc0, acc1), AdvSimd.Add(acc2, acc3)));
        float* table = FloatFormats.HalfTable;
        for (int i = 0; i < (n & 15); i++) sum += table[p[i]] * q[i];
        if (AdvSimd.Arm64.MaxAcross(top).ToScalar() > 0x7BFF) return HalfDot.Plain(w, a, n);
        return sum;
    }
}
