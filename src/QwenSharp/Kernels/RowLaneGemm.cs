using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

/// <summary>
/// The GEMM of quantized weights against a batch of 8-bit activations (prefill, batched decode), "row-lane" form: the
/// eight int32 lanes of a vpdpbusd are eight weight rows, not eight slices of one dot product. For a group of 8 rows
/// and one 32-value block the rows' quants are transposed once into 8 registers W_g (lane r = quants 4g..4g+3 of row r,
/// as unsigned bytes q), and then every token of the tile costs 8 vpdpbusd against a broadcast dword of its
/// activations, one conversion, one multiply and one FMA for 8 rows at once (the dot form pays that per row·token pair,
/// plus a horizontal sum). Q8_0, Q4_0, Q5_0 (value d·(q − offset)) and Q4_1, Q5_1 (value d·q + m) here; IQ4_NL in
/// <see cref="RowLaneIq4"/>, IQ4_XS in <see cref="RowLaneIq4Xs"/>; Q4_K, Q5_K and Q6_K in <see cref="RowLaneGemmK"/>, Q2_K and Q3_K in <see cref="RowLaneGemmK23"/>; Q8_0 without AVX-VNNI in <see cref="RowLaneQ8Sign"/>. Other formats keep the
/// <see cref="DotFast"/> kernels. Without VNNI each vpdpbusd is vpmaddubsw + vpmaddwd + vpaddd, as in llama.cpp's AVX2 path.
/// <para>Each block's integer sum is exact and equal to the plain twin's: the accumulator starts at −offset·Σa (Σa of
/// the token's block, precomputed when packing), so Σ(q − offset)·a comes out of the vpdpbusd chain; then
/// y += (d_w·d_a)·sum (+ m·s for Q8_1) per block in block order, as <see cref="DotPlain"/> does; only the FMA rounding
/// differs. <see cref="RowLanePack"/> quantizes the activations (llama.cpp's Q8_0/Q8_1/Q8_K rules, byte-identical to
/// <see cref="ActivationQuantizer"/>) straight into a block-major panel per tile of tokens, so the token loop reads
/// them contiguously.</para>
/// </summary>
internal static unsafe class RowLaneGemm
{
    /// <summary>Tokens per tile: the tile's packed activations (40 bytes per token and 32 values) are read from L2 by
    /// each row group, its accumulators (32 bytes a token) from L1. 64 and 128 measured the same; walking rows of
    /// 18944 (the 7B's down_proj, 1.5 MB of a tile's activations) in chunks of 4096 measured no faster (the
    /// prefetchers keep up with the block-major stream).</summary>
    public const int TileTokens = 64;

    /// <summary>Rows per group: the int32 lanes of one ymm.</summary>
    public const int Lanes = 8;

    /// <summary>Fewest tokens for this path. Measured on Zen 5 (one thread, 4864×896 and 896×4864): at 2 and 3 tokens
    /// 80-130 GFLOP/s against 25-45 for the one-row kernels, at 4 on par with or above the 2×4 blocks, then ahead;
    /// one token stays with the decode kernels, which are bound by reading the weights.</summary>
    public const int MinTokens = 2;

    /// <summary>Whether there is a row-lane kernel for <paramref name="type"/> at this tier. Without VNNI each vpdpbusd
    /// becomes vpmaddubsw + vpmaddwd + vpaddd, whose int16 pair sums saturate past 32767: fine for quants up to 63
    /// (2·63·127); Q8_0's 0..255 (its weights with the sign bit flipped) would not be, so there Q8_0 goes through
    /// <see cref="RowLaneQ8Sign"/> (|w| and the activation signed by w).</summary>
    public static bool Covers(GgmlType type) =>
        KernelTiers.X86 &&
        type is GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q2_K
        or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.IQ4_NL or GgmlType.IQ4_XS;

    /// <summary>Tokens a step of the token loop takes: four chains of vpdpbusd interleaved.</summary>
    public const int TokenStep = 4;

    /// <summary>A tile's token count rounded up to whole steps: the panel's stride per block (see <see cref="RowLanePack"/>).</summary>
    public static int Padded(int count) => (count + TokenStep - 1) & ~(TokenStep - 1);

    [ThreadStatic] private static float* _acc;

    /// <summary>y[t·rows + r] for rows r0 ≤ r &lt; r1 (a multiple of <see cref="Lanes"/> apart) and every token,
    /// from the panel <see cref="RowLanePack"/> filled.</summary>
    public static void Multiply(GgmlType type, byte* w, long rowBytes, int r0, int r1, int rows, int cols,
        byte* panel, int tokens, float* y)
    {
        switch (type)
        {
            case GgmlType.Q8_0 when KernelTiers.Vnni: Rows<Q8_0Rows>(w, rowBytes, r0, r1, rows, cols, panel, tokens, y); break;
            case GgmlType.Q8_0: RowLaneQ8Sign.Rows(w, rowBytes, r0, r1, rows, cols, panel, tokens, y); break;
            case GgmlType.Q4_0: Rows<Q4_0Rows>(w, rowBytes, r0, r1, rows, cols, panel, tokens, y); break;
            case GgmlType.Q5_0: Rows<Q5_0Rows>(w, rowBytes, r0, r1, rows, cols, panel, tokens, y); break;
            case GgmlType.Q4_1: Rows<Q4_1Rows>(w, rowBytes, r0, r1, rows, cols, panel, tokens, y); break;
            case GgmlType.Q5_1: Rows<Q5_1Rows>(w, rowBytes, r0, r1, rows, cols, panel, tokens, y); break;
            case GgmlType.IQ4_NL when KernelTiers.Vnni: Rows<RowLaneIq4.IQ4_NLRows>(w, rowBytes, r0, r1, rows, cols, panel, tokens, y); break;
            case GgmlType.IQ4_NL: RowLaneIq4.SignRows(w, rowBytes, r0, r1, rows, cols, panel, tokens, y); break;
            case GgmlType.IQ4_XS: RowLaneIq4Xs.Rows(w, rowBytes, r0, r1, rows, cols, panel, tokens, y); break;
            case GgmlType.Q2_K: RowLaneGemmK23.Q2_K(w, rowBytes, r0, r1, rows, cols, panel, tokens, y); break;
            case GgmlType.Q3_K: RowLaneGemmK23.Q3_K(w, rowBytes, r0, r1, rows, cols, panel, tokens, y); break;
            case GgmlType.Q4_K: RowLaneGemmK.Q4_K(w, rowBytes, r0, r1, rows, cols, panel, tokens, y); break;
            case GgmlType.Q5_K: RowLaneGemmK.Q5_K(w, rowBytes, r0, r1, rows, cols, panel, tokens, y); break;
            case GgmlType.Q6_K: RowLaneGemmK.Q6_K(w, rowBytes, r0, r1, rows, cols, panel, tokens, y); break;
            default: throw new NotSupportedException($"No row-lane kernel for {type} weights.");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Rows<TFormat>(byte* w, long rowBytes, int r0, int r1, int rows, int cols,
        byte* panel, int tokens, float* y) where TFormat : struct, IRowBlock
    {
        if (_acc == null) _acc = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(TileTokens * 32, 64);
        var acc = (Vector256<float>*)_acc;
        int blocks = cols / 32;
        byte* recordsAll = panel + (long)Padded(tokens) * blocks * 32;
        for (int t0 = 0; t0 < tokens; t0 += TileTokens)
        {
            int count = Math.Min(TileTokens, tokens - t0), stride = Padded(count);
            byte* quants = panel + (long)t0 * blocks * 32;
            byte* records = recordsAll + (long)t0 * blocks * 8;
            for (int r = r0; r < r1; r += Lanes)
            {
                for (int t = 0; t < stride; t++) acc[t] = Vector256<float>.Zero;
                byte* wr = w + r * rowBytes;
                for (int b = 0; b < blocks; b++)
                {
                    // The 8 rows are 8 streams from memory; the hardware prefetcher does not keep up with that many
                    // (LM head at 8 tokens: 8.6 GB/s without this), so each row's bytes 512 ahead are asked for now.
                    // Past a row's end that is the same row of the next group (7 rows further on), not the next row
                    // of this one, which is already on its way: with the 0.5B's 952-byte rows, most of each row.
                    long ahead = b * TFormat.BlockBytes + 512;
                    if (ahead >= rowBytes) ahead += (Lanes - 1) * rowBytes;
                    for (int k = 0; k < Lanes; k++) Sse.Prefetch0(wr + ahead + k * rowBytes);
                    TFormat.Load(wr + b * TFormat.BlockBytes, rowBytes,
                        out var w0, out var w1, out var w2, out var w3, out var w4, out var w5, out var w6, out var w7, out var dw, out var mw);
                    byte* q = quants + (long)b * stride * 32;
                    byte* rec = records + (long)b * stride * 8;
                    for (int t = 0; t < stride; t += TokenStep, q += TokenStep * 32, rec += TokenStep * 8)
                    {
                        // The sums start at −offset·Σa (Q8_0, Q4_0, Q5_0), or 0 for the formats with a min.
                        Dot4(Init<TFormat>(rec), Init<TFormat>(rec + 8), Init<TFormat>(rec + 16), Init<TFormat>(rec + 24), q, 32,
                            w0, w1, w2, w3, w4, w5, w6, w7, out var i0, out var i1, out var i2, out var i3);
                        acc[t] = Scale<TFormat>(i0, dw, mw, rec, acc[t]);
                        acc[t + 1] = Scale<TFormat>(i1, dw, mw, rec + 8, acc[t + 1]);
                        acc[t + 2] = Scale<TFormat>(i2, dw, mw, rec + 16, acc[t + 2]);
                        acc[t + 3] = Scale<TFormat>(i3, dw, mw, rec + 24, acc[t + 3]);
                    }
                }
                float* yr = y + (long)t0 * rows + r;
                for (int t = 0; t < count; t++) Avx.Store(yr + (long)t * rows, acc[t]);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Init<TFormat>(byte* rec) where TFormat : struct, IRowBlock =>
        TFormat.HasMin ? Vector256<int>.Zero : Vector256.Create(*(int*)rec);

    /// <summary>acc + (d_w·d_a)·sum for one token's block (+ m·s for Q4_1/Q5_1, s = d_a·Σa as the Q8_1 block stores it).
    /// Doing two tokens' conversion and scaling as one 512-bit op each measured 20% slower.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scale<TFormat>(Vector256<int> sum, Vector256<float> dw, Vector256<float> mw, byte* rec,
        Vector256<float> acc) where TFormat : struct, IRowBlock
    {
        var a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), Avx.Multiply(dw, Vector256.Create(*(float*)(rec + 4))), acc);
        return TFormat.HasMin ? Fma.MultiplyAdd(mw, Vector256.Create(*(float*)rec), a) : a;
    }

    /// <summary>The 8 rows' integer block sums for four consecutive tokens (quants <paramref name="step"/> bytes apart),
    /// each from its init plus the 8 vpdpbusd of W_g against the broadcast dword g of the token's quants, the four
    /// tokens' chains interleaved. With one token's chain of 8 dependent
    /// vpdpbusd at a time, the out-of-order window held too few independent ones to keep the VNNI units busy when the
    /// core is shared: four interleaved measured 1.35-1.7x the GFLOP/s then (Zen 5, one thread, 0.5B's gate/down/LM
    /// head at 8 and 64 tokens), and the same when it is not.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Dot4(Vector256<int> i0, Vector256<int> i1, Vector256<int> i2, Vector256<int> i3, byte* q, int step,
        Vector256<byte> w0, Vector256<byte> w1, Vector256<byte> w2, Vector256<byte> w3,
        Vector256<byte> w4, Vector256<byte> w5, Vector256<byte> w6, Vector256<byte> w7,
        out Vector256<int> s0, out Vector256<int> s1, out Vector256<int> s2, out Vector256<int> s3)
    {
        s0 = i0; s1 = i1; s2 = i2; s3 = i3;
        Step4(ref s0, ref s1, ref s2, ref s3, w0, q, step);
        Step4(ref s0, ref s1, ref s2, ref s3, w1, q + 4, step);
        Step4(ref s0, ref s1, ref s2, ref s3, w2, q + 8, step);
        Step4(ref s0, ref s1, ref s2, ref s3, w3, q + 12, step);
        Step4(ref s0, ref s1, ref s2, ref s3, w4, q + 16, step);
        Step4(ref s0, ref s1, ref s2, ref s3, w5, q + 20, step);
        Step4(ref s0, ref s1, ref s2, ref s3, w6, q + 24, step);
        Step4(ref s0, ref s1, ref s2, ref s3, w7, q + 28, step);
    }

    /// <summary>W_g against dword g of four tokens' quants (<paramref name="q"/> points at token 0's dword g).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Step4(ref Vector256<int> s0, ref Vector256<int> s1, ref Vector256<int> s2, ref Vector256<int> s3,
        Vector256<byte> w, byte* q, int step)
    {
        s0 = DotFast.DotU8S8(s0, w, Vector256.Create(*(int*)q).AsSByte());
        s1 = DotFast.DotU8S8(s1, w, Vector256.Create(*(int*)(q + step)).AsSByte());
        s2 = DotFast.DotU8S8(s2, w, Vector256.Create(*(int*)(q + 2 * step)).AsSByte());
        s3 = DotFast.DotU8S8(s3, w, Vector256.Create(*(int*)(q + 3 * step)).AsSByte());
    }

    /// <summary>One block of 8 consecutive rows in a format: the quants as W_0..W_7 (lane r = unsigned quants
    /// 4g..4g+3 of row r, value = d·(q − offset)) and the 8 row scales d.</summary>
    internal interface IRowBlock
    {
        static abstract int BlockBytes { get; }

        /// <summary>Value d·q + m (Q4_1, Q5_1, against Q8_1 activations) rather than d·(q − offset).</summary>
        static abstract bool HasMin { get; }

        static abstract void Load(byte* block, long rowBytes,
            out Vector256<byte> w0, out Vector256<byte> w1, out Vector256<byte> w2, out Vector256<byte> w3,
            out Vector256<byte> w4, out Vector256<byte> w5, out Vector256<byte> w6, out Vector256<byte> w7,
            out Vector256<float> d, out Vector256<float> m);
    }

    /// <summary>The 8 rows' block scales (fp16 at the block start).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Scales(byte* block, long rowBytes)
    {
        float* ht = FloatFormats.HalfTable;
        return Vector256.Create(
            ht[*(ushort*)block], ht[*(ushort*)(block + rowBytes)], ht[*(ushort*)(block + 2 * rowBytes)], ht[*(ushort*)(block + 3 * rowBytes)],
            ht[*(ushort*)(block + 4 * rowBytes)], ht[*(ushort*)(block + 5 * rowBytes)], ht[*(ushort*)(block + 6 * rowBytes)], ht[*(ushort*)(block + 7 * rowBytes)]);
    }

    /// <summary>Dword g of 16 bytes at <paramref name="p"/> of each of 8 rows, transposed: lane r of D_g = dword g of row r.
    /// Rows r and r+4 share a register (one per 128-bit half), then a 4×4 dword transpose in each half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose16(byte* p, long rowBytes,
        out Vector256<byte> d0, out Vector256<byte> d1, out Vector256<byte> d2, out Vector256<byte> d3)
    {
        var l0 = Vector256.Create(Sse2.LoadVector128(p), Sse2.LoadVector128(p + 4 * rowBytes)).AsInt32();
        var l1 = Vector256.Create(Sse2.LoadVector128(p + rowBytes), Sse2.LoadVector128(p + 5 * rowBytes)).AsInt32();
        var l2 = Vector256.Create(Sse2.LoadVector128(p + 2 * rowBytes), Sse2.LoadVector128(p + 6 * rowBytes)).AsInt32();
        var l3 = Vector256.Create(Sse2.LoadVector128(p + 3 * rowBytes), Sse2.LoadVector128(p + 7 * rowBytes)).AsInt32();
        var t0 = Avx2.UnpackLow(l0, l1).AsInt64();  // r0g0 r1g0 r0g1 r1g1
        var t1 = Avx2.UnpackHigh(l0, l1).AsInt64(); // r0g2 r1g2 r0g3 r1g3
        var t2 = Avx2.UnpackLow(l2, l3).AsInt64();
        var t3 = Avx2.UnpackHigh(l2, l3).AsInt64();
        d0 = Avx2.UnpackLow(t0, t2).AsByte();
        d1 = Avx2.UnpackHigh(t0, t2).AsByte();
        d2 = Avx2.UnpackLow(t1, t3).AsByte();
        d3 = Avx2.UnpackHigh(t1, t3).AsByte();
    }

    /// <summary>The 32 bytes at <paramref name="p"/> of each of 8 rows, transposed as <see cref="Transpose16"/> does and
    /// with each byte's sign bit flipped, at 512 bits: rows r and r+4 share a register (one per 256-bit half), the
    /// 128-bit lanes are put in the order (r, dwords 0-3), (r+4, 0-3), (r, 4-7), (r+4, 4-7), and the two unpack stages
    /// then leave D_g in the lower half and D_g+4 in the upper half of one register: 24 operations for the 8 rows
    /// where the two 256-bit transposes and flips take 32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose32Flipped(byte* p, long rowBytes,
        out Vector256<byte> d0, out Vector256<byte> d1, out Vector256<byte> d2, out Vector256<byte> d3,
        out Vector256<byte> d4, out Vector256<byte> d5, out Vector256<byte> d6, out Vector256<byte> d7)
    {
        var l0 = FlippedPair(p, rowBytes, 0);
        var l1 = FlippedPair(p, rowBytes, 1);
        var l2 = FlippedPair(p, rowBytes, 2);
        var l3 = FlippedPair(p, rowBytes, 3);
        var t0 = Avx512F.UnpackLow(l0, l1).AsInt64();
        var t1 = Avx512F.UnpackHigh(l0, l1).AsInt64();
        var t2 = Avx512F.UnpackLow(l2, l3).AsInt64();
        var t3 = Avx512F.UnpackHigh(l2, l3).AsInt64();
        var u0 = Avx512F.UnpackLow(t0, t2).AsByte();
        var u1 = Avx512F.UnpackHigh(t0, t2).AsByte();
        var u2 = Avx512F.UnpackLow(t1, t3).AsByte();
        var u3 = Avx512F.UnpackHigh(t1, t3).AsByte();
        d0 = u0.GetLower(); d4 = Avx512F.ExtractVector256(u0, 1);
        d1 = u1.GetLower(); d5 = Avx512F.ExtractVector256(u1, 1);
        d2 = u2.GetLower(); d6 = Avx512F.ExtractVector256(u2, 1);
        d3 = u3.GetLower(); d7 = Avx512F.ExtractVector256(u3, 1);
    }

    /// <summary>Rows r and r+4's 32 bytes in one register, sign bits flipped, 128-bit lanes in the order
    /// (r lo, r+4 lo, r hi, r+4 hi): Shuffle4x128's control 0b11_01_10_00 takes lanes 0, 2, 1, 3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> FlippedPair(byte* p, long rowBytes, int r)
    {
        var both = Avx512F.InsertVector256(Avx.LoadVector256((int*)(p + r * rowBytes)).ToVector512Unsafe(),
            Avx.LoadVector256((int*)(p + (r + 4) * rowBytes)), 1);
        return Avx512F.Xor(Avx512F.Shuffle4x128(both, both, 0xD8), Vector512.Create((byte)0x80).AsInt32());
    }

    /// <summary>Q8_0: q = w + 128 (the sign bit flipped), offset 128.</summary>
    private struct Q8_0Rows : IRowBlock
    {
        public static int BlockBytes => 34;
        public static bool HasMin => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* block, long rowBytes,
            out Vector256<byte> w0, out Vector256<byte> w1, out Vector256<byte> w2, out Vector256<byte> w3,
            out Vector256<byte> w4, out Vector256<byte> w5, out Vector256<byte> w6, out Vector256<byte> w7,
            out Vector256<float> d, out Vector256<float> m)
        {
            if (KernelTiers.Avx512)
            {
                Transpose32Flipped(block + 2, rowBytes, out w0, out w1, out w2, out w3, out w4, out w5, out w6, out w7);
            }
            else
            {
                var flip = Vector256.Create((byte)0x80);
                Transpose16(block + 2, rowBytes, out w0, out w1, out w2, out w3);
                Transpose16(block + 18, rowBytes, out w4, out w5, out w6, out w7);
                w0 = Avx2.Xor(w0, flip); w1 = Avx2.Xor(w1, flip); w2 = Avx2.Xor(w2, flip); w3 = Avx2.Xor(w3, flip);
                w4 = Avx2.Xor(w4, flip); w5 = Avx2.Xor(w5, flip); w6 = Avx2.Xor(w6, flip); w7 = Avx2.Xor(w7, flip);
            }
            d = Scales(block, rowBytes);
            m = default;
        }
    }

    /// <summary>Q4_0: low nibbles are values 0..15, high nibbles 16..31; offset 8.</summary>
    private struct Q4_0Rows : IRowBlock
    {
        public static int BlockBytes => 18;
        public static bool HasMin => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* block, long rowBytes,
            out Vector256<byte> w0, out Vector256<byte> w1, out Vector256<byte> w2, out Vector256<byte> w3,
            out Vector256<byte> w4, out Vector256<byte> w5, out Vector256<byte> w6, out Vector256<byte> w7,
            out Vector256<float> d, out Vector256<float> m)
        {
            Nibbles(block + 2, rowBytes, out w0, out w1, out w2, out w3, out w4, out w5, out w6, out w7);
            d = Scales(block, rowBytes);
            m = default;
        }
    }

    /// <summary>16 bytes of nibbles at <paramref name="qs"/> of 8 rows: low nibbles are values 0..15, high 16..31.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Nibbles(byte* qs, long rowBytes,
        out Vector256<byte> w0, out Vector256<byte> w1, out Vector256<byte> w2, out Vector256<byte> w3,
        out Vector256<byte> w4, out Vector256<byte> w5, out Vector256<byte> w6, out Vector256<byte> w7)
    {
        var m4 = Vector256.Create((byte)0x0F);
        Transpose16(qs, rowBytes, out var d0, out var d1, out var d2, out var d3);
        w0 = Avx2.And(d0, m4); w1 = Avx2.And(d1, m4); w2 = Avx2.And(d2, m4); w3 = Avx2.And(d3, m4);
        w4 = Avx2.And(Avx2.ShiftRightLogical(d0.AsUInt16(), 4).AsByte(), m4);
        w5 = Avx2.And(Avx2.ShiftRightLogical(d1.AsUInt16(), 4).AsByte(), m4);
        w6 = Avx2.And(Avx2.ShiftRightLogical(d2.AsUInt16(), 4).AsByte(), m4);
        w7 = Avx2.And(Avx2.ShiftRightLogical(d3.AsUInt16(), 4).AsByte(), m4);
    }

    /// <summary>5-bit quants of 8 rows from 4 bytes of fifth bits at <paramref name="qh"/> (bit j: value j) and 16 bytes of
    /// nibbles at <paramref name="qs"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fives(byte* qh, byte* qs, long rowBytes,
        out Vector256<byte> w0, out Vector256<byte> w1, out Vector256<byte> w2, out Vector256<byte> w3,
        out Vector256<byte> w4, out Vector256<byte> w5, out Vector256<byte> w6, out Vector256<byte> w7)
    {
        var m4 = Vector256.Create((byte)0x0F);
        Transpose16(qs, rowBytes, out var d0, out var d1, out var d2, out var d3);
        var high = Vector256.Create(
            *(uint*)qh, *(uint*)(qh + rowBytes), *(uint*)(qh + 2 * rowBytes), *(uint*)(qh + 3 * rowBytes),
            *(uint*)(qh + 4 * rowBytes), *(uint*)(qh + 5 * rowBytes), *(uint*)(qh + 6 * rowBytes), *(uint*)(qh + 7 * rowBytes)).AsByte();
        // Values 4g..4g+3 take bits 4g..4g+3 of qh: byte g/2 of each lane (q01 for W_0 and W_1, ...), low nibble for
        // even g, high for odd.
        var lowBits = Vector256.Create(0x08040201u).AsByte();
        var highBits = Vector256.Create(0x80402010u).AsByte();
        var q01 = Avx2.Shuffle(high, Vector256.Create(0x00000000u, 0x04040404u, 0x08080808u, 0x0C0C0C0Cu, 0x00000000u, 0x04040404u, 0x08080808u, 0x0C0C0C0Cu).AsByte());
        var q23 = Avx2.Shuffle(high, Vector256.Create(0x01010101u, 0x05050505u, 0x09090909u, 0x0D0D0D0Du, 0x01010101u, 0x05050505u, 0x09090909u, 0x0D0D0D0Du).AsByte());
        var q45 = Avx2.Shuffle(high, Vector256.Create(0x02020202u, 0x06060606u, 0x0A0A0A0Au, 0x0E0E0E0Eu, 0x02020202u, 0x06060606u, 0x0A0A0A0Au, 0x0E0E0E0Eu).AsByte());
        var q67 = Avx2.Shuffle(high, Vector256.Create(0x03030303u, 0x07070707u, 0x0B0B0B0Bu, 0x0F0F0F0Fu, 0x03030303u, 0x07070707u, 0x0B0B0B0Bu, 0x0F0F0F0Fu).AsByte());
        w0 = Avx2.Or(Avx2.And(d0, m4), Fifth(q01, lowBits));
        w1 = Avx2.Or(Avx2.And(d1, m4), Fifth(q01, highBits));
        w2 = Avx2.Or(Avx2.And(d2, m4), Fifth(q23, lowBits));
        w3 = Avx2.Or(Avx2.And(d3, m4), Fifth(q23, highBits));
        w4 = Avx2.Or(Avx2.And(Avx2.ShiftRightLogical(d0.AsUInt16(), 4).AsByte(), m4), Fifth(q45, lowBits));
        w5 = Avx2.Or(Avx2.And(Avx2.ShiftRightLogical(d1.AsUInt16(), 4).AsByte(), m4), Fifth(q45, highBits));
        w6 = Avx2.Or(Avx2.And(Avx2.ShiftRightLogical(d2.AsUInt16(), 4).AsByte(), m4), Fifth(q67, lowBits));
        w7 = Avx2.Or(Avx2.And(Avx2.ShiftRightLogical(d3.AsUInt16(), 4).AsByte(), m4), Fifth(q67, highBits));
    }

    /// <summary>0x10 in each byte whose bit (of <paramref name="bits"/>) is set in <paramref name="replicated"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Fifth(Vector256<byte> replicated, Vector256<byte> bits) =>
        Avx2.And(Avx2.CompareEqual(Avx2.And(replicated, bits), bits), Vector256.Create((byte)0x10));

    /// <summary>Q5_0: as Q4_0 plus the fifth bit of value j from bit j of qh; offset 16.</summary>
    private struct Q5_0Rows : IRowBlock
    {
        public static int BlockBytes => 22;
        public static bool HasMin => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* block, long rowBytes,
            out Vector256<byte> w0, out Vector256<byte> w1, out Vector256<byte> w2, out Vector256<byte> w3,
            out Vector256<byte> w4, out Vector256<byte> w5, out Vector256<byte> w6, out Vector256<byte> w7,
            out Vector256<float> d, out Vector256<float> m)
        {
            Fives(block + 2, block + 6, rowBytes, out w0, out w1, out w2, out w3, out w4, out w5, out w6, out w7);
            d = Scales(block, rowBytes);
            m = default;
        }
    }

    /// <summary>Q4_1: nibbles as Q4_0, value d·q + m.</summary>
    private struct Q4_1Rows : IRowBlock
    {
        public static int BlockBytes => 20;
        public static bool HasMin => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* block, long rowBytes,
            out Vector256<byte> w0, out Vector256<byte> w1, out Vector256<byte> w2, out Vector256<byte> w3,
            out Vector256<byte> w4, out Vector256<byte> w5, out Vector256<byte> w6, out Vector256<byte> w7,
            out Vector256<float> d, out Vector256<float> m)
        {
            Nibbles(block + 4, rowBytes, out w0, out w1, out w2, out w3, out w4, out w5, out w6, out w7);
            d = Scales(block, rowBytes);
            m = Scales(block + 2, rowBytes);
        }
    }

    /// <summary>Q5_1: 5-bit quants as Q5_0, value d·q + m.</summary>
    private struct Q5_1Rows : IRowBlock
    {
        public static int BlockBytes => 24;
        public static bool HasMin => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* block, long rowBytes,
            out Vector256<byte> w0, out Vector256<byte> w1, out Vector256<byte> w2, out Vector256<byte> w3,
            out Vector256<byte> w4, out Vector256<byte> w5, out Vector256<byte> w6, out Vector256<byte> w7,
            out Vector256<float> d, out Vector256<float> m)
        {
            Fives(block + 4, block + 8, rowBytes, out w0, out w1, out w2, out w3, out w4, out w5, out w6, out w7);
            d = Scales(block, rowBytes);
            m = Scales(block + 2, rowBytes);
        }
    }
}
