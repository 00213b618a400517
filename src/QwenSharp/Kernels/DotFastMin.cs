using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QwenSharp.Kernels;

// Q4_1 and Q5_1 · Q8_1: the 32-value formats with a min, value = d·q + m. Against activations a·da (Q8_1, whose s
// holds da·Σa) a block's product is d·da·Σ q·a + m·s (ggml_vec_dot_q4_1_q8_1 / _q5_1_q8_1): the unsigned quants
// (0..15, or 0..31 with the fifth bit) go straight into vpdpbusd (or vpmaddubsw + vpmaddwd; 2·31·128 stays within
// int16), one FMA per block, and the min term is a scalar sum beside it.
// Block layouts: Q4_1 d, m, 16 bytes of nibbles (20 bytes); Q5_1 d, m, 32 fifth bits, nibbles (24 bytes);
// Q8_1 d, s, 32 int8 (36 bytes).
// Twins: DotPlain.Q4_1 and DotPlain.Q5_1, via FastKernelTwinTests.
internal static unsafe partial class DotFast
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Q5_1Quants(byte* block) =>
        Avx2.Or(Nibbles(block + 8), Avx2.And(BitsToBytes(*(uint*)(block + 4)), Vector256.Create((byte)0x10)));

    /// <summary>One block with a min: acc += d·da·Σ q·a, and m·s returned for the scalar sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MinBlock(Vector256<byte> q, byte* w, byte* a, Vector256<float> acc, float* half, ref float mins)
    {
        var p = DotU8S8(Vector256<int>.Zero, q, Avx.LoadVector256((sbyte*)(a + 4)));
        mins += half[*(ushort*)(w + 2)] * half[*(ushort*)(a + 2)];
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(half[*(ushort*)w] * half[*(ushort*)a]), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4_1One(byte* w, byte* a, int n)
    {
        // Four accumulators, four blocks a step, the table read once (see Q4_0One).
        float* half = FloatFormats.HalfTable;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        var acc3 = Vector256<float>.Zero;
        float mins = 0;
        int blocks = n / 32, b = 0;
        for (; b + 3 < blocks; b += 4, w += 80, a += 144)
        {
            acc0 = MinBlock(Nibbles(w + 4), w, a, acc0, half, ref mins);
            acc1 = MinBlock(Nibbles(w + 24), w + 20, a + 36, acc1, half, ref mins);
            acc2 = MinBlock(Nibbles(w + 44), w + 40, a + 72, acc2, half, ref mins);
            acc3 = MinBlock(Nibbles(w + 64), w + 60, a + 108, acc3, half, ref mins);
        }
        for (; b < blocks; b++, w += 20, a += 36) acc0 = MinBlock(Nibbles(w + 4), w, a, acc0, half, ref mins);
        return Vector256.Sum(Avx.Add(Avx.Add(acc0, acc1), Avx.Add(acc2, acc3))) + mins;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q5_1One(byte* w, byte* a, int n)
    {
        float* half = FloatFormats.HalfTable;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        float mins = 0;
        int blocks = n / 32, b = 0;
        for (; b + 1 < blocks; b += 2, w += 48, a += 72)
        {
            acc0 = MinBlock(Q5_1Quants(w), w, a, acc0, half, ref mins);
            acc1 = MinBlock(Q5_1Quants(w + 24), w + 24, a + 36, acc1, half, ref mins);
        }
        if (b < blocks) acc0 = MinBlock(Q5_1Quants(w), w, a, acc0, half, ref mins);
        return Vector256.Sum(Avx.Add(acc0, acc1)) + mins;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MinMany(Vector256<byte> q, byte* w, byte* a, long stride, int tokens, Vector256<float>* acc, float* mins, float* half)
    {
        float dw = half[*(ushort*)w], mw = half[*(ushort*)(w + 2)];
        byte* at = a;
        for (int t = 0; t < tokens; t++, at += stride)
        {
            var p = DotU8S8(Vector256<int>.Zero, q, Avx.LoadVector256((sbyte*)(at + 4)));
            acc[t] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(dw * half[*(ushort*)at]), acc[t]);
            mins[t] += mw * half[*(ushort*)(at + 2)];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_1Many(byte* w, byte* a, long stride, int n, int tokens, float* y)
    {
        float* half = FloatFormats.HalfTable;
        var acc = stackalloc Vector256<float>[MaxTokens];
        float* mins = stackalloc float[MaxTokens];
        for (int t = 0; t < tokens; t++) { acc[t] = Vector256<float>.Zero; mins[t] = 0; }
        for (int b = 0; b < n / 32; b++, w += 20, a += 36) MinMany(Nibbles(w + 4), w, a, stride, tokens, acc, mins, half);
        for (int t = 0; t < tokens; t++) y[t] = Vector256.Sum(acc[t]) + mins[t];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q5_1Many(byte* w, byte* a, long stride, int n, int tokens, float* y)
    {
        float* half = FloatFormats.HalfTable;
        var acc = stackalloc Vector256<float>[MaxTokens];
        float* mins = stackalloc float[MaxTokens];
        for (int t = 0; t < tokens; t++) { acc[t] = Vector256<float>.Zero; mins[t] = 0; }
        for (int b = 0; b < n / 32; b++, w += 24, a += 36) MinMany(Q5_1Quants(w), w, a, stride, tokens, acc, mins, half);
        for (int t = 0; t < tokens; t++) y[t] = Vector256.Sum(acc[t]) + mins[t];
    }
}
