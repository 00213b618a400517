using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QwenSharp.Kernels;

/// <summary>
/// Decode's four-rows-at-a-time kernels at 256 bits (every x86 tier) for Q4_0, Q8_0, Q5_0, Q4_1, Q5_1 and IQ4_NL: one
/// loop, <see cref="Four{T}"/>, over a per-format row step. Each activation block is loaded, and its scale (and the
/// offset pairs 8·a or 16·a of Q4_0 and Q5_0; the s of Q4_1 and Q5_1) converted, once for the four rows; the four rows'
/// chains run side by side and the next four rows are fetched ahead, as fast as these are read (see Q4_0Four512). One
/// row at a time, a block paid two table lookups for the activation's scale and one FMA chain carried every block
/// (Q4_1, Q5_1: also one scalar chain of min terms), which left Ice Lake's decode of Q5_0, Q4_1, Q5_1 and IQ4_NL at
/// 0.78–0.96× llama.cpp's. Each row's blocks are summed in the one-row kernel's order. Twins: the
/// <see cref="DotPlain"/> kernels, via FastKernelTwinTests' four-row test.
/// </summary>
internal static unsafe partial class DotFast
{
    /// <summary>One format's step of <see cref="Four{T}"/>: a weight block against an activation block loaded once.</summary>
    private interface IFourRows
    {
        /// <summary>Bytes of a weight block.</summary>
        static abstract int WeightBytes { get; }
        /// <summary>Q8_1 activations (d, s, quants: 36 bytes) rather than Q8_0 (d, quants: 34).</summary>
        static abstract bool HasMin { get; }
        /// <summary>What the four rows share beside the quants: the offset's pairs (q − offset)·a, or nothing.</summary>
        static abstract Vector256<short> Shared(Vector256<sbyte> aq);
        /// <summary>acc + d·da·Σ q·a for one row's block; the min term m·s added to <paramref name="mins"/>.</summary>
        static abstract Vector256<float> Row(byte* w, Vector256<sbyte> aq, Vector256<short> shared, float da, float sa,
            Vector256<float> acc, ref float mins, float* half);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Four<T>(byte* w, long rowBytes, byte* a, int n, float* y) where T : struct, IFourRows
    {
        float* half = FloatFormats.HalfTable; // read once, outside the loop (see Q4_0One)
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        var acc3 = Vector256<float>.Zero;
        float m0 = 0, m1 = 0, m2 = 0, m3 = 0;
        byte* w1 = w + rowBytes, w2 = w + 2 * rowBytes, w3 = w + 3 * rowBytes;
        int actBytes = T.HasMin ? 36 : 34;
        int blocks = n / 32;
        for (int b = 0; b < blocks; b++, a += actBytes)
        {
            var aq = Avx.LoadVector256((sbyte*)(a + (T.HasMin ? 4 : 2)));
            var shared = T.Shared(aq);
            float da = half[*(ushort*)a];
            float sa = T.HasMin ? half[*(ushort*)(a + 2)] : 0;
            long o = (long)b * T.WeightBytes;
            byte* next = w + 4 * rowBytes + 4 * o; // the next four rows ahead
            Sse.Prefetch0(next);
            Sse.Prefetch0(next + 64);
            acc0 = T.Row(w + o, aq, shared, da, sa, acc0, ref m0, half);
            acc1 = T.Row(w1 + o, aq, shared, da, sa, acc1, ref m1, half);
            acc2 = T.Row(w2 + o, aq, shared, da, sa, acc2, ref m2, half);
            acc3 = T.Row(w3 + o, aq, shared, da, sa, acc3, ref m3, half);
        }
        y[0] = Vector256.Sum(acc0);
        y[1] = Vector256.Sum(acc1);
        y[2] = Vector256.Sum(acc2);
        y[3] = Vector256.Sum(acc3);
        if (T.HasMin)
        {
            y[0] += m0; y[1] += m1; y[2] += m2; y[3] += m3;
        }
    }

    /// <summary>Q4_0: (q·a − 8·a) in int16 pairs (|pair| ≤ 2·8·128), the 8·a pairs shared (<see cref="Q4_0Row"/>).</summary>
    private struct Q4_0Rows : IFourRows
    {
        public static int WeightBytes => 18;
        public static bool HasMin => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Shared(Vector256<sbyte> aq) => Avx2.MultiplyAddAdjacent(Vector256.Create((byte)8), aq);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Row(byte* w, Vector256<sbyte> aq, Vector256<short> shared, float da, float sa,
            Vector256<float> acc, ref float mins, float* half) => Q4_0Row(w, aq, shared, da, acc, half);
    }

    /// <summary>Q8_0: |w| · sign(a, w) (<see cref="Q8_0Row"/>).</summary>
    private struct Q8_0Rows : IFourRows
    {
        public static int WeightBytes => 34;
        public static bool HasMin => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Shared(Vector256<sbyte> aq) => default;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Row(byte* w, Vector256<sbyte> aq, Vector256<short> shared, float da, float sa,
            Vector256<float> acc, ref float mins, float* half) => Q8_0Row(w, aq, da, acc, half);
    }

    /// <summary>Q5_0: (q·a − 16·a) in int16 pairs (|pair| ≤ 2·31·128 + 2·16·128), the 16·a pairs shared.</summary>
    private struct Q5_0Rows : IFourRows
    {
        public static int WeightBytes => 22;
        public static bool HasMin => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Shared(Vector256<sbyte> aq) => Avx2.MultiplyAddAdjacent(Vector256.Create((byte)16), aq);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Row(byte* w, Vector256<sbyte> aq, Vector256<short> shared, float da, float sa,
            Vector256<float> acc, ref float mins, float* half)
        {
            var p = Avx2.MultiplyAddAdjacent(Avx2.Subtract(Avx2.MultiplyAddAdjacent(Q5Quants(w), aq), shared), Vector256<short>.One);
            return Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(half[*(ushort*)w] * da), acc);
        }
    }

    /// <summary>Q4_1 · Q8_1: the min term m·s per block beside the integer sums, as <see cref="MinBlock"/>.</summary>
    private struct Q4_1Rows : IFourRows
    {
        public static int WeightBytes => 20;
        public static bool HasMin => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Shared(Vector256<sbyte> aq) => default;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Row(byte* w, Vector256<sbyte> aq, Vector256<short> shared, float da, float sa,
            Vector256<float> acc, ref float mins, float* half) => MinRow(Nibbles(w + 4), w, aq, da, sa, acc, ref mins, half);
    }

    /// <summary>Q5_1 · Q8_1.</summary>
    private struct Q5_1Rows : IFourRows
    {
        public static int WeightBytes => 24;
        public static bool HasMin => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Shared(Vector256<sbyte> aq) => default;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Row(byte* w, Vector256<sbyte> aq, Vector256<short> shared, float da, float sa,
            Vector256<float> acc, ref float mins, float* half) => MinRow(Q5_1Quants(w), w, aq, da, sa, acc, ref mins, half);
    }

    /// <summary>IQ4_NL: |w| · sign(a, w) with the grid looked up by vpshufb (see DotFastIq4.cs).</summary>
    private struct Iq4NlRows : IFourRows
    {
        public static int WeightBytes => 18;
        public static bool HasMin => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Shared(Vector256<sbyte> aq) => default;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Row(byte* w, Vector256<sbyte> aq, Vector256<short> shared, float da, float sa,
            Vector256<float> acc, ref float mins, float* half)
        {
            var wq = Iq4Weights(w + 2, Iq4Grid());
            var p = DotU8S8(Vector256<int>.Zero, Avx2.Abs(wq), Avx2.Sign(aq, wq));
            return Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(half[*(ushort*)w] * da), acc);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MinRow(Vector256<byte> q, byte* w, Vector256<sbyte> aq, float da, float sa,
        Vector256<float> acc, ref float mins, float* half)
    {
        var p = DotU8S8(Vector256<int>.Zero, q, aq);
        mins += half[*(ushort*)(w + 2)] * sa;
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(half[*(ushort*)w] * da), acc);
    }
}
