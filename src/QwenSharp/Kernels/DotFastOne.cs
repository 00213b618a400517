using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

/// <summary>
/// AVX-512 one-token (decode) kernels: two 32-value blocks per 512-bit register, so that the unpacking, the
/// conversion to float and the FMA are paid once per pair of blocks. .NET 10 exposes vpdpbusd only at 256 bits,
/// so the integer dot is vpmaddubsw + vpmaddwd at 512 (two instructions per 64 values, as two 256-bit
/// vpdpbusd). Twins of the <see cref="DotPlain"/> kernels, tested against them like the rest of DotFast.
/// </summary>
internal static unsafe partial class DotFast
{
    /// <summary>Q4_0 · Q8_0, Σ (q − 8)·a per block. The 16 bytes of nibbles of blocks j and j+1 are loaded as
    /// [qs_j, qs_j, qs_j+1, qs_j+1] (128-bit lanes) and shifted right by 0, 4, 0, 4 bits per lane: after
    /// masking, lanes hold values 0..15 and 16..31 of each block, the order of the activations' 2 × 32 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4_0One512(byte* w, byte* a, int n)
    {
        float* half = FloatFormats.HalfTable; // read once, outside the loop (see Q4_0One)
        var shifts = Vector512.Create(
            (ushort)0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4,
            0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4);
        var m4 = Vector512.Create((byte)0x0F);
        var eight = Vector512.Create((byte)8);
        var ones = Vector512.Create((short)1);
        var acc0 = Vector512<float>.Zero;
        var acc1 = Vector512<float>.Zero;
        int blocks = n / 32, b = 0;
        for (; b + 3 < blocks; b += 4, w += 72, a += 136)
        {
            acc0 = Q4_0Pair(w, a, acc0, half, shifts, m4, eight, ones);
            acc1 = Q4_0Pair(w + 36, a + 68, acc1, half, shifts, m4, eight, ones);
        }
        if (b + 1 < blocks)
        {
            acc0 = Q4_0Pair(w, a, acc0, half, shifts, m4, eight, ones);
            b += 2; w += 36; a += 68;
        }
        var rest = Vector256<float>.Zero;
        if (b < blocks) rest = Q4_0Block(w, a, rest, half);
        return Vector512.Sum(Avx512F.Add(acc0, acc1)) + Vector256.Sum(rest);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Q4_0Pair(byte* w, byte* a, Vector512<float> acc, float* half,
        Vector512<ushort> shifts, Vector512<byte> m4, Vector512<byte> eight, Vector512<short> ones)
    {
        var packed = Avx512F.InsertVector256(Avx512F.BroadcastVector128ToVector512((int*)(w + 2)), Avx2.BroadcastVector128ToVector256((int*)(w + 20)), 1);
        var q = Avx512F.And(Avx512BW.ShiftRightLogicalVariable(packed.AsUInt16(), shifts).AsByte(), m4);
        // (Vector512.Create(lower, upper) goes through the stack in .NET 10: inserts instead.)
        var aq = Avx512F.InsertVector256(Avx.LoadVector256((sbyte*)(a + 2)).ToVector512Unsafe(), Avx.LoadVector256((sbyte*)(a + 36)), 1);
        // q·a − 8·a in 16-bit pairs: |pair| ≤ 2·8·128, no saturation.
        var p16 = Avx512BW.Subtract(Avx512BW.MultiplyAddAdjacent(q, aq), Avx512BW.MultiplyAddAdjacent(eight, aq));
        var p = Avx512BW.MultiplyAddAdjacent(p16, ones);
        var d = Avx512F.InsertVector256(Vector512.Create(half[*(ushort*)w] * half[*(ushort*)a]),
            Vector256.Create(half[*(ushort*)(w + 18)] * half[*(ushort*)(a + 34)]), 1);
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(p), d, acc);
    }

    /// <summary>Four consecutive rows (w, w + rowBytes, ...) · one token: y[0..3]. Each activation block is loaded
    /// and its scale converted once for the four rows (Q4_0: also its 8·a term), and the four rows stream side by
    /// side. Null where there is no such kernel (Q8_0 rows shorter than Q8_0FourMinCols). The 256-bit loop for every
    /// format: DotFastFour.cs.</summary>
    public static delegate*<byte*, long, byte*, int, float*, void> SelectFour(GgmlType type, int cols) =>
        !Supported ? null
        : type == GgmlType.Q4_0 ? (KernelTiers.Avx512 ? &Q4_0Four512 : &Four<Q4_0Rows>)
        : type == GgmlType.Q8_0 && cols >= Q8_0FourMinCols ? &Four<Q8_0Rows>
        : type == GgmlType.Q5_0 ? &Four<Q5_0Rows>
        : type == GgmlType.Q4_1 ? &Four<Q4_1Rows>
        : type == GgmlType.Q5_1 ? &Four<Q5_1Rows>
        : type == GgmlType.IQ4_NL ? &Four<Iq4NlRows>
        : null;

    /// <summary>Q8_0 rows at least this long go four at a time. Measured streaming every layer from memory on 2
    /// threads: the 7B's down_proj (18,944 columns) 24 -> 33 GB/s and its 3,584-column matrices unchanged or better;
    /// the 0.5B's 896-column rows 5% slower that way, so they stay one at a time.</summary>
    private const int Q8_0FourMinCols = 2048;

    /// <summary>One Q4_0 block: (q·a − 8·a) in int16 pairs (|pair| ≤ 2·8·128, no saturation), then summed to int32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q4_0Row(byte* w, Vector256<sbyte> aq, Vector256<short> a8, float da, Vector256<float> acc, float* half)
    {
        var p16 = Avx2.Subtract(Avx2.MultiplyAddAdjacent(Nibbles(w + 2), aq), a8);
        var p = Avx2.MultiplyAddAdjacent(p16, Vector256<short>.One);
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(half[*(ushort*)w] * da), acc);
    }

    /// <summary>One Q8_0 weight block against an activation block already loaded (quants and scale): |w| · sign(a, w)
    /// so that the unsigned operand of vpdpbusd is the weight's magnitude.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q8_0Row(byte* w, Vector256<sbyte> aq, float da, Vector256<float> acc, float* half)
    {
        var wq = Avx.LoadVector256((sbyte*)(w + 2));
        var p = DotU8S8(Vector256<int>.Zero, Avx2.Abs(wq), Avx2.Sign(aq, wq));
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(half[*(ushort*)w] * da), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_0Four512(byte* w, long rowBytes, byte* a, int n, float* y)
    {
        float* half = FloatFormats.HalfTable; // read once, outside the loop (see Q4_0One)
        var shifts = Vector512.Create(
            (ushort)0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4,
            0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4);
        var m4 = Vector512.Create((byte)0x0F);
        var eight = Vector512.Create((byte)8);
        var ones = Vector512.Create((short)1);
        var acc0 = Vector512<float>.Zero;
        var acc1 = Vector512<float>.Zero;
        var acc2 = Vector512<float>.Zero;
        var acc3 = Vector512<float>.Zero;
        byte* w1 = w + rowBytes, w2 = w + 2 * rowBytes, w3 = w + 3 * rowBytes;
        int blocks = n / 32, b = 0;
        for (; b + 1 < blocks; b += 2, a += 68)
        {
            var aq = Avx512F.InsertVector256(Avx.LoadVector256((sbyte*)(a + 2)).ToVector512Unsafe(), Avx.LoadVector256((sbyte*)(a + 36)), 1);
            var a8 = Avx512BW.MultiplyAddAdjacent(eight, aq);
            var da = Avx512F.InsertVector256(Vector512.Create(half[*(ushort*)a]), Vector256.Create(half[*(ushort*)(a + 34)]), 1);
            long o = (long)b * 18;
            // Four rows read side by side leave the hardware prefetchers behind (measured: streaming from memory
            // fell from 17 to 12 GB/s on one thread): fetch the next four rows ahead, as fast as these are read.
            byte* next = w + 4 * rowBytes + 4 * o;
            Sse.Prefetch0(next);
            Sse.Prefetch0(next + 64);
            Sse.Prefetch0(next + 128);
            acc0 = Q4_0RowPair(w + o, aq, a8, da, acc0, half, shifts, m4, ones);
            acc1 = Q4_0RowPair(w1 + o, aq, a8, da, acc1, half, shifts, m4, ones);
            acc2 = Q4_0RowPair(w2 + o, aq, a8, da, acc2, half, shifts, m4, ones);
            acc3 = Q4_0RowPair(w3 + o, aq, a8, da, acc3, half, shifts, m4, ones);
        }
        y[0] = Vector512.Sum(acc0);
        y[1] = Vector512.Sum(acc1);
        y[2] = Vector512.Sum(acc2);
        y[3] = Vector512.Sum(acc3);
        if (b < blocks)
        {
            long o = (long)b * 18;
            y[0] += Vector256.Sum(Q4_0Block(w + o, a, Vector256<float>.Zero, half));
            y[1] += Vector256.Sum(Q4_0Block(w1 + o, a, Vector256<float>.Zero, half));
            y[2] += Vector256.Sum(Q4_0Block(w2 + o, a, Vector256<float>.Zero, half));
            y[3] += Vector256.Sum(Q4_0Block(w3 + o, a, Vector256<float>.Zero, half));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Q4_0RowPair(byte* w, Vector512<sbyte> aq, Vector512<short> a8, Vector512<float> da,
        Vector512<float> acc, float* half, Vector512<ushort> shifts, Vector512<byte> m4, Vector512<short> ones)
    {
        var packed = Avx512F.InsertVector256(Avx512F.BroadcastVector128ToVector512((int*)(w + 2)), Avx2.BroadcastVector128ToVector256((int*)(w + 20)), 1);
        var q = Avx512F.And(Avx512BW.ShiftRightLogicalVariable(packed.AsUInt16(), shifts).AsByte(), m4);
        var p = Avx512BW.MultiplyAddAdjacent(Avx512BW.Subtract(Avx512BW.MultiplyAddAdjacent(q, aq), a8), ones);
        var dw = Avx512F.InsertVector256(Vector512.Create(half[*(ushort*)w]), Vector256.Create(half[*(ushort*)(w + 18)]), 1);
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(p), Avx512F.Multiply(dw, da), acc);
    }
}
