using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QwenSharp.Kernels;

/// <summary>
/// One query token's group of heads against the KV head they share (decode, and any lone token of a batch), for the
/// head sizes of every Qwen2 model (64 and 128) on AVX-512 (at 256 bits on the AVX2 tiers: <see cref="AttentionGroup256"/>). The per-key path in <see cref="Attention"/> is its plain
/// twin; this one differs in two places that dominate decode at length:
/// <list type="bullet">
/// <item>scores four keys at a time, the four dot products' partial vectors reduced together (3 shuffle-adds and two
/// folds for four keys instead of a full horizontal sum per key);</item>
/// <item>the value sum of each head kept in registers over all keys (two sets of accumulators, even and odd keys, so the
/// FMA chains are not latency-bound), instead of loading and storing the output row for every key.</item>
/// </list>
/// Keys and values are walked block by block of the paged cache (no division per key), each block once for the whole
/// group; a cache narrower than f32 has each block widened into an L1 scratch first (<see cref="KvHeadRows"/>).
/// </summary>
internal static unsafe class AttentionGroup
{
    /// <summary>Head sizes 64 and 128 at an x86 tier: AVX-512 here, the AVX2 tiers in <see cref="AttentionGroup256"/>.</summary>
    public static bool Supported(int headDim) => KernelTiers.X86 && headDim is 64 or 128;

    /// <param name="q">the group's query rows, [group, d] (rotated, not scaled)</param>
    /// <param name="o">the group's output rows, [group, d]</param>
    /// <param name="keys">the layer's keys of KV head kvh</param>
    /// <param name="values">likewise for values</param>
    /// <param name="scores">scratch of [group, length]</param>
    /// <param name="rows">scratch of [blockSize, d] for the rows of a cache narrower than f32</param>
    public static void Run(float* q, float* o, int group, int d, KvHeadRows keys, KvHeadRows values,
        int* table, int blockSize, int length, float scale, float* scores, float* rows)
    {
        if (KernelTiers.Avx512) Run512(q, o, group, d, keys, values, table, blockSize, length, scale, scores, rows);
        else AttentionGroup256.Run(q, o, group, d, keys, values, table, blockSize, length, scale, scores, rows);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run512(float* q, float* o, int group, int d, KvHeadRows keys, KvHeadRows values,
        int* table, int blockSize, int length, float scale, float* scores, float* rows)
    {
        // Block by block of the cache, every head of the group: a block's keys (and values) are read from memory once
        // and then from L1 for the other heads (head by head over the whole length read them group times).
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
                if (d == 64) Values64(scores + (long)g * length + j0, v, stride, n, o + (long)g * d);
                else Values128(scores + (long)g * length + j0, v, stride, n, o + (long)g * d);
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
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int c = 0; c < d; c += 16)
            {
                var qc = Vector512.Load(q + c);
                a0 = Avx512F.FusedMultiplyAdd(qc, Vector512.Load(k0 + c), a0);
                a1 = Avx512F.FusedMultiplyAdd(qc, Vector512.Load(k1 + c), a1);
                a2 = Avx512F.FusedMultiplyAdd(qc, Vector512.Load(k2 + c), a2);
                a3 = Avx512F.FusedMultiplyAdd(qc, Vector512.Load(k3 + c), a3);
            }
            Sse.Store(s + p, Sse.Multiply(Sum4(a0, a1, a2, a3), Vector128.Create(scale)));
        }
        for (; p < n; p++)
        {
            float* kp = k + p * stride;
            var a = Vector512<float>.Zero;
            for (int c = 0; c < d; c += 16) a = Avx512F.FusedMultiplyAdd(Vector512.Load(q + c), Vector512.Load(kp + c), a);
            s[p] = Vector512.Sum(a) * scale;
        }
    }

    /// <summary>The four vectors' horizontal sums as one Vector128 [Σa, Σb, Σc, Σd]: within each 128-bit lane the
    /// four are transposed and added in two steps, then the four lanes are folded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Sum4(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        // Per 128-bit lane: ab = [a0+a2, b0+b2, a1+a3, b1+b3], cd likewise.
        var ab = Avx512F.Add(Avx512F.UnpackLow(a, b), Avx512F.UnpackHigh(a, b));
        var cd = Avx512F.Add(Avx512F.UnpackLow(c, d), Avx512F.UnpackHigh(c, d));
        // Per 128-bit lane: [Σa, Σb, Σc, Σd] of that lane.
        var abcd = Avx512F.Add(Avx512F.Shuffle(ab, cd, 0b01_00_01_00), Avx512F.Shuffle(ab, cd, 0b11_10_11_10));
        var half = Avx.Add(abcd.GetLower(), abcd.GetUpper());
        return Sse.Add(half.GetLower(), half.GetUpper());
    }

    /// <summary>o += Σ_p s[p]·v_p over the n values of one block, head size 64: four registers for even keys and four
    /// for odd ones (one set alone would wait on the FMA latency).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Values64(float* s, float* v, long stride, int n, float* o)
    {
        Vector512<float> e0 = Vector512.Load(o), e1 = Vector512.Load(o + 16), e2 = Vector512.Load(o + 32), e3 = Vector512.Load(o + 48);
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default;
        int p = 0;
        for (; p + 2 <= n; p += 2)
        {
            float* v0 = v + p * stride, v1 = v0 + stride;
            var w0 = Vector512.Create(s[p]);
            var w1 = Vector512.Create(s[p + 1]);
            e0 = Avx512F.FusedMultiplyAdd(Vector512.Load(v0), w0, e0);
            e1 = Avx512F.FusedMultiplyAdd(Vector512.Load(v0 + 16), w0, e1);
            e2 = Avx512F.FusedMultiplyAdd(Vector512.Load(v0 + 32), w0, e2);
            e3 = Avx512F.FusedMultiplyAdd(Vector512.Load(v0 + 48), w0, e3);
            d0 = Avx512F.FusedMultiplyAdd(Vector512.Load(v1), w1, d0);
            d1 = Avx512F.FusedMultiplyAdd(Vector512.Load(v1 + 16), w1, d1);
            d2 = Avx512F.FusedMultiplyAdd(Vector512.Load(v1 + 32), w1, d2);
            d3 = Avx512F.FusedMultiplyAdd(Vector512.Load(v1 + 48), w1, d3);
        }
        if (p < n)
        {
            float* v0 = v + p * stride;
            var w0 = Vector512.Create(s[p]);
            e0 = Avx512F.FusedMultiplyAdd(Vector512.Load(v0), w0, e0);
            e1 = Avx512F.FusedMultiplyAdd(Vector512.Load(v0 + 16), w0, e1);
            e2 = Avx512F.FusedMultiplyAdd(Vector512.Load(v0 + 32), w0, e2);
            e3 = Avx512F.FusedMultiplyAdd(Vector512.Load(v0 + 48), w0, e3);
        }
        Avx512F.Add(e0, d0).Store(o);
        Avx512F.Add(e1, d1).Store(o + 16);
        Avx512F.Add(e2, d2).Store(o + 32);
        Avx512F.Add(e3, d3).Store(o + 48);
    }

    /// <summary>o += Σ_p s[p]·v_p over one block, head size 128: eight independent accumulators cover the FMA latency.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Values128(float* s, float* v, long stride, int n, float* o)
    {
        Vector512<float> a0 = Vector512.Load(o), a1 = Vector512.Load(o + 16), a2 = Vector512.Load(o + 32), a3 = Vector512.Load(o + 48);
        Vector512<float> a4 = Vector512.Load(o + 64), a5 = Vector512.Load(o + 80), a6 = Vector512.Load(o + 96), a7 = Vector512.Load(o + 112);
        for (int p = 0; p < n; p++)
        {
            float* vp = v + p * stride;
            var w = Vector512.Create(s[p]);
            a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(vp), w, a0);
            a1 = Avx512F.FusedMultiplyAdd(Vector512.Load(vp + 16), w, a1);
            a2 = Avx512F.FusedMultiplyAdd(Vector512.Load(vp + 32), w, a2);
            a3 = Avx512F.FusedMultiplyAdd(Vector512.Load(vp + 48), w, a3);
            a4 = Avx512F.FusedMultiplyAdd(Vector512.Load(vp + 64), w, a4);
            a5 = Avx512F.FusedMultiplyAdd(Vector512.Load(vp + 80), w, a5);
            a6 = Avx512F.FusedMultiplyAdd(Vector512.Load(vp + 96), w, a6);
            a7 = Avx512F.FusedMultiplyAdd(Vector512.Load(vp + 112), w, a7);
        }
        a0.Store(o); a1.Store(o + 16); a2.Store(o + 32); a3.Store(o + 48);
        a4.Store(o + 64); a5.Store(o + 80); a6.Store(o + 96); a7.Store(o + 112);
    }
}
