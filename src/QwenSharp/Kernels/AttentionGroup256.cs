using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QwenSharp.Kernels;

/// <summary>
/// <see cref="AttentionGroup"/> at 256 bits, for the AVX2 tiers: the same walk of the paged cache block by block, each
/// block once for the whole group; scores four keys at a time with one joint reduction; the value sums in registers.
/// A head of 64 values is eight ymm accumulators (eight FMA chains, enough to cover the latency with one set); a head of
/// 128 is summed as two halves of 64, each a pass over the block's values (read from L1 the second time), since
/// sixteen accumulators would leave no register for the values. The per-key path in <see cref="Attention"/> is the twin.
/// </summary>
internal static unsafe class AttentionGroup256
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(float* q, float* o, int group, int d, KvHeadRows keys, KvHeadRows values,
        int* table, int blockSize, int length, float scale, float* scores, float* rows)
    {
        for (int j0 = 0; j0 < length; j0 += blockSize)
        {
            int n = Math.Min(blockSize, length - j0);
            if (j0 + 2 * blockSize < length) keys.Prefetch((long)table[j0 / blockSize + 2] * blockSize, Math.Min(blockSize, length - j0 - 2 * blockSize));
            float* k = keys.Rows((long)table[j0 / blockSize] * blockSize, n, rows, out long stride);
            for (int g = 0; g < group; g++) Scores(q + (long)g * d, d, k, stride, n, scale, scores + (long)g * length + j0);
        }
        for (int g = 0; g < group; g++) Attention.Softmax(new Span<float>(scores + (long)g * length, length));
        new Span<float>(o, group * d).Clear();
        for (int j0 = 0; j0 < length; j0 += blockSize)
        {
            int n = Math.Min(blockSize, length - j0);
            if (j0 + 2 * blockSize < length) values.Prefetch((long)table[j0 / blockSize + 2] * blockSize, Math.Min(blockSize, length - j0 - 2 * blockSize));
            float* v = values.Rows((long)table[j0 / blockSize] * blockSize, n, rows, out long stride);
            for (int g = 0; g < group; g++)
                for (int h = 0; h < d; h += 64) Values64(scores + (long)g * length + j0, v + h, stride, n, o + (long)g * d + h);
        }
    }

    /// <summary>s[p] = scale · q·k_p for the n keys of one block (k_p at k + p·stride).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scores(float* q, int d, float* k, long stride, int n, float scale, float* s)
    {
        int p = 0;
        for (; p + 4 <= n; p += 4)
        {
            float* k0 = k + p * stride, k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int c = 0; c < d; c += 8)
            {
                var qc = Avx.LoadVector256(q + c);
                a0 = Fma.MultiplyAdd(qc, Avx.LoadVector256(k0 + c), a0);
                a1 = Fma.MultiplyAdd(qc, Avx.LoadVector256(k1 + c), a1);
                a2 = Fma.MultiplyAdd(qc, Avx.LoadVector256(k2 + c), a2);
                a3 = Fma.MultiplyAdd(qc, Avx.LoadVector256(k3 + c), a3);
            }
            Sse.Store(s + p, Sse.Multiply(Sum4(a0, a1, a2, a3), Vector128.Create(scale)));
        }
        for (; p < n; p++)
        {
            float* kp = k + p * stride;
            var a = Vector256<float>.Zero;
            for (int c = 0; c < d; c += 8) a = Fma.MultiplyAdd(Avx.LoadVector256(q + c), Avx.LoadVector256(kp + c), a);
            s[p] = Vector256.Sum(a) * scale;
        }
    }

    /// <summary>[Σa, Σb, Σc, Σd]: within each 128-bit lane the four are transposed and added in two steps, then the two
    /// lanes are added (<see cref="AttentionGroup"/>'s reduction, one fold fewer).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Sum4(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d)
    {
        var ab = Avx.Add(Avx.UnpackLow(a, b), Avx.UnpackHigh(a, b));
        var cd = Avx.Add(Avx.UnpackLow(c, d), Avx.UnpackHigh(c, d));
        var abcd = Avx.Add(Avx.Shuffle(ab, cd, 0b01_00_01_00), Avx.Shuffle(ab, cd, 0b11_10_11_10));
        return Sse.Add(abcd.GetLower(), abcd.GetUpper());
    }

    /// <summary>o[0..64) += Σ_p s[p]·v_p[0..64) over the n values of one block: eight accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Values64(float* s, float* v, long stride, int n, float* o)
    {
        Vector256<float> a0 = Avx.LoadVector256(o), a1 = Avx.LoadVector256(o + 8), a2 = Avx.LoadVector256(o + 16), a3 = Avx.LoadVector256(o + 24);
        Vector256<float> a4 = Avx.LoadVector256(o + 32), a5 = Avx.LoadVector256(o + 40), a6 = Avx.LoadVector256(o + 48), a7 = Avx.LoadVector256(o + 56);
        for (int p = 0; p < n; p++)
        {
            float* vp = v + p * stride;
            var w = Vector256.Create(s[p]);
            a0 = Fma.MultiplyAdd(Avx.LoadVector256(vp), w, a0);
            a1 = Fma.MultiplyAdd(Avx.LoadVector256(vp + 8), w, a1);
            a2 = Fma.MultiplyAdd(Avx.LoadVector256(vp + 16), w, a2);
            a3 = Fma.MultiplyAdd(Avx.LoadVector256(vp + 24), w, a3);
            a4 = Fma.MultiplyAdd(Avx.LoadVector256(vp + 32), w, a4);
            a5 = Fma.MultiplyAdd(Avx.LoadVector256(vp + 40), w, a5);
            a6 = Fma.MultiplyAdd(Avx.LoadVector256(vp + 48), w, a6);
            a7 = Fma.MultiplyAdd(Avx.LoadVector256(vp + 56), w, a7);
        }
        Avx.Store(o, a0); Avx.Store(o + 8, a1); Avx.Store(o + 16, a2); Avx.Store(o + 24, a3);
        Avx.Store(o + 32, a4); Avx.Store(o + 40, a5); Avx.Store(o + 48, a6); Avx.Store(o + 56, a7);
    }
}
