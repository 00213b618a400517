using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

// IQ4_NL · Q8_0 and IQ4_XS · Q8_K, as ggml's AVX2 kernels do them: the nibbles index the 16-level grid with one
// vpshufb (the grid held in both 128-bit lanes), giving the signed int8 weights; the signed × signed product goes
// through vpdpbusd (or vpmaddubsw + vpmaddwd) as |w| · sign(a, w): |w| ≤ 127 and |a| ≤ 127, so an int16 pair sum
// stays within 2·127·127. IQ4_NL: one FMA per block of 32 by d·a.d. IQ4_XS: each group's int32 sums times its
// 6-bit scale − 32 into int32 lanes per super-block (at most 8·32·127·127·32 < 2^31), then one FMA by d·y.d.
// Twins: DotPlain.IQ4_NL and DotPlain.IQ4_XS, via FastKernelTwinTests.
internal static unsafe partial class DotFast
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Iq4Grid()
    {
        var grid = Vector128.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
        return Vector256.Create(grid, grid);
    }

    /// <summary>32 weights of a group: values j and j + 16 from the low and high nibbles of its 16 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Iq4Weights(byte* qs16, Vector256<sbyte> grid) =>
        Avx2.Shuffle(grid, Nibbles(qs16).AsSByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SignedDot(Vector256<sbyte> w, sbyte* a) =>
        DotU8S8(Vector256<int>.Zero, Avx2.Abs(w), Avx2.Sign(Avx.LoadVector256(a), w));

    /// <summary>Σ w·a · scale over a group, as int32 lanes: the int16 pair sums of |w| · sign(a, w) times the scale by vpmaddwd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> ScaledPairs(Vector256<sbyte> w, sbyte* a, int scale) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Abs(w), Avx2.Sign(Avx.LoadVector256(a), w)), Vector256.Create((short)scale));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float IQ4_NLOne(byte* w, byte* a, int n)
    {
        // Four accumulators, four blocks a step (see Q4_0One); 18-byte weight blocks, 34-byte activation blocks.
        float* half = FloatFormats.HalfTable;
        var grid = Iq4Grid();
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        var acc3 = Vector256<float>.Zero;
        int blocks = n / 32, b = 0;
        for (; b + 3 < blocks; b += 4, w += 72, a += 136)
        {
            FetchAhead(w); FetchAhead(w + 64);
            acc0 = IQ4_NLBlock(w, a, acc0, half, grid);
            acc1 = IQ4_NLBlock(w + 18, a + 34, acc1, half, grid);
            acc2 = IQ4_NLBlock(w + 36, a + 68, acc2, half, grid);
            acc3 = IQ4_NLBlock(w + 54, a + 102, acc3, half, grid);
        }
        for (; b < blocks; b++, w += 18, a += 34) acc0 = IQ4_NLBlock(w, a, acc0, half, grid);
        return Vector256.Sum(Avx.Add(Avx.Add(acc0, acc1), Avx.Add(acc2, acc3)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> IQ4_NLBlock(byte* w, byte* a, Vector256<float> acc, float* half, Vector256<sbyte> grid)
    {
        var p = SignedDot(Iq4Weights(w + 2, grid), (sbyte*)(a + 2));
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(half[*(ushort*)w] * half[*(ushort*)a]), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void IQ4_NLMany(byte* w, byte* a, long stride, int n, int tokens, float* y)
    {
        float* half = FloatFormats.HalfTable;
        var grid = Iq4Grid();
        var acc = stackalloc Vector256<float>[MaxTokens];
        for (int t = 0; t < tokens; t++) acc[t] = Vector256<float>.Zero;
        for (int b = 0; b < n / 32; b++, w += 18, a += 34)
        {
            var wq = Iq4Weights(w + 2, grid);
            var wabs = Avx2.Abs(wq);
            float dw = half[*(ushort*)w];
            byte* at = a;
            for (int t = 0; t < tokens; t++, at += stride)
            {
                var p = DotU8S8(Vector256<int>.Zero, wabs, Avx2.Sign(Avx.LoadVector256((sbyte*)(at + 2)), wq));
                acc[t] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(dw * half[*(ushort*)at]), acc[t]);
            }
        }
        for (int t = 0; t < tokens; t++) y[t] = Vector256.Sum(acc[t]);
    }

    /// <summary>Group <paramref name="ib"/>'s scale − 32 of an IQ4_XS block (its 6 bits split over scales_l and scales_h).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Iq4XsScale(byte* block, int ib) =>
        (((block[4 + ib / 2] >> (4 * (ib & 1))) & 0x0F) | (((*(ushort*)(block + 2) >> (2 * ib)) & 3) << 4)) - 32;

    // Q8_K block: d (f32) at 0, 256 int8 at 4, bsums after; 292 bytes. IQ4_XS block: 136 bytes, quants at 8.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float IQ4_XSOne(byte* w, byte* a, int n)
    {
        float* half = FloatFormats.HalfTable;
        var grid = Iq4Grid();
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < n / 256; b++, w += 136, a += 292)
        {
            FetchAhead(w); FetchAhead(w + 64); FetchAhead(w + 128);
            // Two chains of integer sums (even and odd groups) so that one multiply need not wait for the other.
            var sum0 = Vector256<int>.Zero;
            var sum1 = Vector256<int>.Zero;
            for (int ib = 0; ib < 8; ib += 2)
            {
                if (KernelTiers.Vnni)
                {
                    var p0 = SignedDot(Iq4Weights(w + 8 + 16 * ib, grid), (sbyte*)(a + 4 + 32 * ib));
                    var p1 = SignedDot(Iq4Weights(w + 8 + 16 * (ib + 1), grid), (sbyte*)(a + 4 + 32 * (ib + 1)));
                    sum0 = Avx2.Add(sum0, Avx2.MultiplyLow(p0, Vector256.Create(Iq4XsScale(w, ib))));
                    sum1 = Avx2.Add(sum1, Avx2.MultiplyLow(p1, Vector256.Create(Iq4XsScale(w, ib + 1))));
                }
                else
                {
                    // Without VNNI the int16 pair sums are at hand: vpmaddwd by the scale (as ggml's AVX2 kernel) does
                    // the pairing and the scaling in one instruction, where vpmulld costs two (|pair·scale·2| < 2^21).
                    sum0 = Avx2.Add(sum0, ScaledPairs(Iq4Weights(w + 8 + 16 * ib, grid), (sbyte*)(a + 4 + 32 * ib), Iq4XsScale(w, ib)));
                    sum1 = Avx2.Add(sum1, ScaledPairs(Iq4Weights(w + 8 + 16 * (ib + 1), grid), (sbyte*)(a + 4 + 32 * (ib + 1)), Iq4XsScale(w, ib + 1)));
                }
            }
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Add(sum0, sum1)), Vector256.Create(half[*(ushort*)w] * *(float*)a), acc);
        }
        return Vector256.Sum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void IQ4_XSMany(byte* w, byte* a, long stride, int n, int tokens, float* y)
    {
        float* half = FloatFormats.HalfTable;
        var grid = Iq4Grid();
        var acc = stackalloc Vector256<float>[MaxTokens];
        var wabs = stackalloc Vector256<byte>[8];
        var wq = stackalloc Vector256<sbyte>[8];
        var scales = stackalloc Vector256<int>[8];
        for (int t = 0; t < tokens; t++) acc[t] = Vector256<float>.Zero;
        for (int b = 0; b < n / 256; b++, w += 136, a += 292)
        {
            // The super-block unpacked once for every token of the tile.
            for (int ib = 0; ib < 8; ib++)
            {
                wq[ib] = Iq4Weights(w + 8 + 16 * ib, grid);
                wabs[ib] = Avx2.Abs(wq[ib]);
                scales[ib] = Vector256.Create(Iq4XsScale(w, ib));
            }
            float dw = half[*(ushort*)w];
            byte* at = a;
            for (int t = 0; t < tokens; t++, at += stride)
            {
                var sum = Vector256<int>.Zero;
                for (int ib = 0; ib < 8; ib++)
                {
                    var p = DotU8S8(Vector256<int>.Zero, wabs[ib], Avx2.Sign(Avx.LoadVector256((sbyte*)(at + 4 + 32 * ib)), wq[ib]));
                    sum = Avx2.Add(sum, Avx2.MultiplyLow(p, scales[ib]));
                }
                acc[t] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), Vector256.Create(dw * *(float*)at), acc[t]);
            }
        }
        for (int t = 0; t < tokens; t++) y[t] = Vector256.Sum(acc[t]);
    }
}
