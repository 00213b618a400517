using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QwenSharp.Kernels;

/// <summary>
/// Decode's four-rows-at-a-time kernels for Q5_0, Q4_1, Q5_1 and IQ4_NL at 256 bits (every x86 tier), as
/// <see cref="Q4_0Four"/>: each activation block is loaded, and its scale (and Q5_0's 16·a pairs, Q4_1/Q5_1's s)
/// converted, once for the four rows, four rows' chains run side by side, and the next four rows are fetched
/// ahead. One row at a time, a block paid two table lookups for the activation's scale and one FMA chain carried
/// every block (Q4_1, Q5_1: also one scalar chain of min terms), which left Ice Lake's decode of these formats at
/// 0.78–0.96× llama.cpp's. Each row's blocks are summed in the one-row kernel's order. Twins: the
/// <see cref="DotPlain"/> kernels, via FastKernelTwinTests' four-row test.
/// </summary>
internal static unsafe partial class DotFast
{
    /// <summary>Q5_0 · Q8_0 for four rows: (q·a − 16·a) in int16 pairs (|pair| ≤ 2·31·128 + 2·16·128), the 16·a pairs
    /// computed once per activation block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q5_0Four(byte* w, long rowBytes, byte* a, int n, float* y)
    {
        float* half = FloatFormats.HalfTable; // read once, outside the loop (see Q4_0One)
        var sixteen = Vector256.Create((byte)16);
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        var acc3 = Vector256<float>.Zero;
        byte* w1 = w + rowBytes, w2 = w + 2 * rowBytes, w3 = w + 3 * rowBytes;
        int blocks = n / 32;
        for (int b = 0; b < blocks; b++, a += 34)
        {
            var aq = Avx.LoadVector256((sbyte*)(a + 2));
            var a16 = Avx2.MultiplyAddAdjacent(sixteen, aq);
            float da = half[*(ushort*)a];
            long o = (long)b * 22;
            byte* next = w + 4 * rowBytes + 4 * o; // the next four rows, 88 bytes of them per block (see Q4_0Four512)
            Sse.Prefetch0(next);
            Sse.Prefetch0(next + 64);
            acc0 = Q5_0Row(w + o, aq, a16, da, acc0, half);
            acc1 = Q5_0Row(w1 + o, aq, a16, da, acc1, half);
            acc2 = Q5_0Row(w2 + o, aq, a16, da, acc2, half);
            acc3 = Q5_0Row(w3 + o, aq, a16, da, acc3, half);
        }
        y[0] = Vector256.Sum(acc0);
        y[1] = Vector256.Sum(acc1);
        y[2] = Vector256.Sum(acc2);
        y[3] = Vector256.Sum(acc3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q5_0Row(byte* w, Vector256<sbyte> aq, Vector256<short> a16, float da, Vector256<float> acc, float* half)
    {
        var p16 = Avx2.Subtract(Avx2.MultiplyAddAdjacent(Q5Quants(w), aq), a16);
        var p = Avx2.MultiplyAddAdjacent(p16, Vector256<short>.One);
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(half[*(ushort*)w] * da), acc);
    }

    /// <summary>Q4_1 · Q8_1 for four rows (the min term m·s per block beside the integer sums, as <see cref="MinBlock"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_1Four(byte* w, long rowBytes, byte* a, int n, float* y) => MinFour<Q4_1Quants>(w, rowBytes, a, n, y);

    /// <summary>Q5_1 · Q8_1 for four rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q5_1Four(byte* w, long rowBytes, byte* a, int n, float* y) => MinFour<Q5_1QuantsOf>(w, rowBytes, a, n, y);

    private interface IMinQuants
    {
        static abstract int BlockBytes { get; }
        static abstract Vector256<byte> Load(byte* block);
    }

    private struct Q4_1Quants : IMinQuants
    {
        public static int BlockBytes => 20;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> Load(byte* block) => Nibbles(block + 4);
    }

    private struct Q5_1QuantsOf : IMinQuants
    {
        public static int BlockBytes => 24;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> Load(byte* block) => Q5_1Quants(block);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MinFour<T>(byte* w, long rowBytes, byte* a, int n, float* y) where T : struct, IMinQuants
    {
        float* half = FloatFormats.HalfTable;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        var acc3 = Vector256<float>.Zero;
        float m0 = 0, m1 = 0, m2 = 0, m3 = 0;
        byte* w1 = w + rowBytes, w2 = w + 2 * rowBytes, w3 = w + 3 * rowBytes;
        int blocks = n / 32;
        for (int b = 0; b < blocks; b++, a += 36)
        {
            var aq = Avx.LoadVector256((sbyte*)(a + 4));
            float da = half[*(ushort*)a], sa = half[*(ushort*)(a + 2)];
            long o = (long)b * T.BlockBytes;
            byte* next = w + 4 * rowBytes + 4 * o;
            Sse.Prefetch0(next);
            Sse.Prefetch0(next + 64);
            acc0 = MinRow<T>(w + o, aq, da, sa, acc0, ref m0, half);
            acc1 = MinRow<T>(w1 + o, aq, da, sa, acc1, ref m1, half);
            acc2 = MinRow<T>(w2 + o, aq, da, sa, acc2, ref m2, half);
            acc3 = MinRow<T>(w3 + o, aq, da, sa, acc3, ref m3, half);
        }
        y[0] = Vector256.Sum(acc0) + m0;
        y[1] = Vector256.Sum(acc1) + m1;
        y[2] = Vector256.Sum(acc2) + m2;
        y[3] = Vector256.Sum(acc3) + m3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MinRow<T>(byte* w, Vector256<sbyte> aq, float da, float sa, Vector256<float> acc, ref float mins, float* half)
        where T : struct, IMinQuants
    {
        var p = DotU8S8(Vector256<int>.Zero, T.Load(w), aq);
        mins += half[*(ushort*)(w + 2)] * sa;
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(half[*(ushort*)w] * da), acc);
    }

    /// <summary>IQ4_NL · Q8_0 for four rows: |w| · sign(a, w) per row (see DotFastIq4.cs), the activation block and
    /// its scale read once for the four.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void IQ4_NLFour(byte* w, long rowBytes, byte* a, int n, float* y)
    {
        float* half = FloatFormats.HalfTable;
        var grid = Iq4Grid();
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        var acc3 = Vector256<float>.Zero;
        byte* w1 = w + rowBytes, w2 = w + 2 * rowBytes, w3 = w + 3 * rowBytes;
        int blocks = n / 32;
        for (int b = 0; b < blocks; b++, a += 34)
        {
            var aq = Avx.LoadVector256((sbyte*)(a + 2));
            float da = half[*(ushort*)a];
            long o = (long)b * 18;
            byte* next = w + 4 * rowBytes + 4 * o;
            Sse.Prefetch0(next);
            Sse.Prefetch0(next + 64);
            acc0 = Iq4NlRow(w + o, aq, da, acc0, half, grid);
            acc1 = Iq4NlRow(w1 + o, aq, da, acc1, half, grid);
            acc2 = Iq4NlRow(w2 + o, aq, da, acc2, half, grid);
            acc3 = Iq4NlRow(w3 + o, aq, da, acc3, half, grid);
        }
        y[0] = Vector256.Sum(acc0);
        y[1] = Vector256.Sum(acc1);
        y[2] = Vector256.Sum(acc2);
        y[3] = Vector256.Sum(acc3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Iq4NlRow(byte* w, Vector256<sbyte> aq, float da, Vector256<float> acc, float* half, Vector256<sbyte> grid)
    {
        var wq = Iq4Weights(w + 2, grid);
        var p = DotU8S8(Vector256<int>.Zero, Avx2.Abs(wq), Avx2.Sign(aq, wq));
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(half[*(ushort*)w] * da), acc);
    }
}
