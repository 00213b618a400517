using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static QwenSharp.Kernels.RowLaneGemm;

namespace QwenSharp.Kernels;

/// <summary>
/// The row-lane GEMM (see <see cref="RowLaneGemm"/>) for Q4_K, Q5_K and Q6_K weights against Q8_K activations: per group of
/// 8 rows and 32 values the quants are transposed into W_0..W_7 and each token costs 8 vpdpbusd, then the sub-block
/// scales multiply the integer sums (vpmulld, 8 rows at once) into a per-token int32 super-block sum, exactly as
/// <see cref="DotPlain.KQuant"/> forms it:
/// <list type="bullet">
/// <item>Q4_K, Q5_K: y += y.d·(d·Σ_s sc_s·dot_s − dmin·Σ_j m_j·(bsum_2j + bsum_2j+1)); the min term by 4 vpdpwssd of the
/// rows' int16 mins against the token's pair sums.</item>
/// <item>Q6_K: q = 0..63 unsigned, value d·sc_g·(q − 32): y += y.d·d·(Σ_g sc_g·dot_g − 32·Σ_g sc_g·bsum_g); the offset
/// term by 8 vpdpwssd of the rows' int16 scales against the token's bsums.</item>
/// </list>
/// Panel (<see cref="RowLanePack"/>): per tile, [super-block][token] of 256 quants, and a 64-byte record each:
/// bsums (16 × int16) at 0, pair sums (8 × int16) at 32, y.d (float) at 48.
/// </summary>
internal static unsafe class RowLaneGemmK
{
    public const int RecordBytes = 64;

    [ThreadStatic] private static float* _acc;
    [ThreadStatic] private static int* _isum;

    internal static void Buffers(out Vector256<float>* acc, out Vector256<int>* isum)
    {
        if (_acc == null)
        {
            _acc = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(TileTokens * 32, 64);
            _isum = (int*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(TileTokens * 32, 64);
        }
        acc = (Vector256<float>*)_acc;
        isum = (Vector256<int>*)_isum;
    }

    /// <summary>Dword at <paramref name="p"/> of each of 8 rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> Dwords(byte* p, long rowBytes) => Vector256.Create(
        *(int*)p, *(int*)(p + rowBytes), *(int*)(p + 2 * rowBytes), *(int*)(p + 3 * rowBytes),
        *(int*)(p + 4 * rowBytes), *(int*)(p + 5 * rowBytes), *(int*)(p + 6 * rowBytes), *(int*)(p + 7 * rowBytes));

    /// <summary>Byte <paramref name="b"/> of each int32 lane, zero-extended.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Byte(Vector256<int> x, int b) =>
        Avx2.And(Avx2.ShiftRightLogical(x, Vector128.CreateScalar(8 * b)), Vector256.Create(0xFF));

    /// <summary>Bytes <paramref name="b"/>, b+1 of each int32 lane as an int16 pair, zero-extended (or sign-extended).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<short> BytePair(Vector256<int> x, int b, bool signed)
    {
        uint lo = (uint)b, hi = (uint)b + 1;
        // vpshufb indexes within each 128-bit half: dword i's bytes are 4i..4i+3; 0x80 writes a zero.
        var control = signed
            ? Vector256.Create(0x80u | (lo << 8) | (0x80u << 16) | (hi << 24))
            : Vector256.Create(lo | (0x80u << 8) | (hi << 16) | (0x80u << 24));
        control = Avx2.Add(control, Vector256.Create(0u, 0x04040404u, 0x08080808u, 0x0C0C0C0Cu, 0u, 0x04040404u, 0x08080808u, 0x0C0C0C0Cu));
        var pair = Avx2.Shuffle(x.AsByte(), control.AsByte()).AsInt16();
        return signed ? Avx2.ShiftRightArithmetic(pair, 8) : pair;
    }

    public static void Q4_K(byte* w, long rowBytes, int r0, int r1, int rows, int cols, byte* panel, int tokens, float* y) =>
        Q4OrQ5_K<Four>(w, rowBytes, r0, r1, rows, cols, panel, tokens, y);

    public static void Q5_K(byte* w, long rowBytes, int r0, int r1, int rows, int cols, byte* panel, int tokens, float* y) =>
        Q4OrQ5_K<Five>(w, rowBytes, r0, r1, rows, cols, panel, tokens, y);

    private struct Four;
    private struct Five;

    /// <summary>Q4_K (144-byte blocks: d, dmin, 12 bytes of scales and mins, 128 of nibbles) or, with
    /// <typeparamref name="TBits"/> = <see cref="Five"/>, Q5_K (176 bytes: the same with 32 bytes of fifth bits before the
    /// nibbles; value j of sub-block s takes bit s of qh[j] as its bit 4, as dequantize_row_q5_K: quants up to 31,
    /// 2·31·127 within int16). A type argument, not a flag, so that the JIT compiles each format's loop on its own: with
    /// a runtime flag Q4_K's GEMM measured 15-25% slower.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4OrQ5_K<TBits>(byte* w, long rowBytes, int r0, int r1, int rows, int cols, byte* panel, int tokens, float* y)
        where TBits : struct
    {
        bool five = typeof(TBits) == typeof(Five);
        long blockBytes = five ? 176 : 144;
        var m5 = Vector256.Create((byte)0x10);
        Buffers(out var acc, out var isum);
        int blocks = cols / 256;
        byte* recordsAll = panel + (long)Padded(tokens) * blocks * 256;
        var m4 = Vector256.Create((byte)0x0F);
        for (int t0 = 0; t0 < tokens; t0 += TileTokens)
        {
            int count = Math.Min(TileTokens, tokens - t0), stride = Padded(count);
            byte* quants = panel + (long)t0 * blocks * 256;
            byte* records = recordsAll + (long)t0 * blocks * RecordBytes;
            for (int r = r0; r < r1; r += Lanes)
            {
                for (int t = 0; t < count; t++) acc[t] = Vector256<float>.Zero;
                for (int b = 0; b < blocks; b++)
                {
                    byte* blk = w + r * rowBytes + b * blockBytes;
                    // The 12 packed bytes of 6-bit scales and mins (get_scale_min_k4), 8 rows a lane each.
                    var u0 = Dwords(blk + 4, rowBytes);
                    var u1 = Dwords(blk + 8, rowBytes);
                    var u2 = Dwords(blk + 12, rowBytes);
                    var k1 = Vector256.Create(0x3f3f3f3f);
                    var k2 = Vector256.Create(0x0f0f0f0f);
                    var k3 = Vector256.Create(0x03030303);
                    var scLo = Avx2.And(u0, k1);
                    var scHi = Avx2.Or(Avx2.And(u2, k2), Avx2.ShiftLeftLogical(Avx2.And(Avx2.ShiftRightLogical(u0, 6), k3), 4));
                    var mnLo = Avx2.And(u1, k1);
                    var mnHi = Avx2.Or(Avx2.And(Avx2.ShiftRightLogical(u2, 4), k2), Avx2.ShiftLeftLogical(Avx2.And(Avx2.ShiftRightLogical(u1, 6), k3), 4));
                    byte* qs = blk + (five ? 48 : 16);
                    byte* qb = quants + (long)b * stride * 256;
                    for (int t = 0; t < stride; t++) isum[t] = Vector256<int>.Zero;
                    for (int s = 0; s < 8; s++)
                    {
                        // Sub-block s: bytes 32·(s/2).. of qs, low nibbles for even s, high for odd.
                        Transpose16(qs + 32 * (s / 2), rowBytes, out var w0, out var w1, out var w2, out var w3);
                        Transpose16(qs + 32 * (s / 2) + 16, rowBytes, out var w4, out var w5, out var w6, out var w7);
                        if ((s & 1) != 0)
                        {
                            w0 = Avx2.ShiftRightLogical(w0.AsUInt16(), 4).AsByte(); w1 = Avx2.ShiftRightLogical(w1.AsUInt16(), 4).AsByte();
                            w2 = Avx2.ShiftRightLogical(w2.AsUInt16(), 4).AsByte(); w3 = Avx2.ShiftRightLogical(w3.AsUInt16(), 4).AsByte();
                            w4 = Avx2.ShiftRightLogical(w4.AsUInt16(), 4).AsByte(); w5 = Avx2.ShiftRightLogical(w5.AsUInt16(), 4).AsByte();
                            w6 = Avx2.ShiftRightLogical(w6.AsUInt16(), 4).AsByte(); w7 = Avx2.ShiftRightLogical(w7.AsUInt16(), 4).AsByte();
                        }
                        w0 = Avx2.And(w0, m4); w1 = Avx2.And(w1, m4); w2 = Avx2.And(w2, m4); w3 = Avx2.And(w3, m4);
                        w4 = Avx2.And(w4, m4); w5 = Avx2.And(w5, m4); w6 = Avx2.And(w6, m4); w7 = Avx2.And(w7, m4);
                        if (five)
                        {
                            // Bit s of each qh byte moved to bit 4 by a 16-bit shift (a byte's bit s lands on its own bit 4).
                            Transpose16(blk + 16, rowBytes, out var h0, out var h1, out var h2, out var h3);
                            Transpose16(blk + 32, rowBytes, out var h4, out var h5, out var h6, out var h7);
                            w0 = Avx2.Or(w0, Fifth(h0, s, m5)); w1 = Avx2.Or(w1, Fifth(h1, s, m5));
                            w2 = Avx2.Or(w2, Fifth(h2, s, m5)); w3 = Avx2.Or(w3, Fifth(h3, s, m5));
                            w4 = Avx2.Or(w4, Fifth(h4, s, m5)); w5 = Avx2.Or(w5, Fifth(h5, s, m5));
                            w6 = Avx2.Or(w6, Fifth(h6, s, m5)); w7 = Avx2.Or(w7, Fifth(h7, s, m5));
                        }
                        var sc = Byte(s < 4 ? scLo : scHi, s & 3);
                        byte* q = qb + 32 * s;
                        for (int t = 0; t < stride; t += TokenStep, q += TokenStep * 256)
                        {
                            var z = Vector256<int>.Zero;
                            RowLaneGemm.Dot4(z, z, z, z, q, 256, w0, w1, w2, w3, w4, w5, w6, w7, out var i0, out var i1, out var i2, out var i3);
                            AddScaled(isum + t, i0, i1, i2, i3, sc);
                        }
                    }
                    var d = Scales(blk, rowBytes);
                    var dmin = Scales(blk + 2, rowBytes);
                    var mn0 = BytePair(mnLo, 0, false);
                    var mn1 = BytePair(mnLo, 2, false);
                    var mn2 = BytePair(mnHi, 0, false);
                    var mn3 = BytePair(mnHi, 2, false);
                    byte* rec = records + (long)b * stride * RecordBytes;
                    for (int t = 0; t < count; t++, rec += RecordBytes)
                    {
                        var m = DotFast.DotS16(Vector256<int>.Zero, mn0, Vector256.Create(*(int*)(rec + 32)).AsInt16());
                        m = DotFast.DotS16(m, mn1, Vector256.Create(*(int*)(rec + 36)).AsInt16());
                        m = DotFast.DotS16(m, mn2, Vector256.Create(*(int*)(rec + 40)).AsInt16());
                        m = DotFast.DotS16(m, mn3, Vector256.Create(*(int*)(rec + 44)).AsInt16());
                        var yd = Vector256.Create(*(float*)(rec + 48));
                        var a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(isum[t]), Avx.Multiply(d, yd), acc[t]);
                        acc[t] = Fma.MultiplyAddNegated(Avx.ConvertToVector256Single(m), Avx.Multiply(dmin, yd), a);
                    }
                }
                float* yr = y + (long)t0 * rows + r;
                for (int t = 0; t < count; t++) Avx.Store(yr + (long)t * rows, acc[t]);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q6_K(byte* w, long rowBytes, int r0, int r1, int rows, int cols, byte* panel, int tokens, float* y)
    {
        Buffers(out var acc, out var isum);
        int blocks = cols / 256;
        byte* recordsAll = panel + (long)Padded(tokens) * blocks * 256;
        var m4 = Vector256.Create((byte)0x0F);
        var m2 = Vector256.Create((byte)0x03);
        for (int t0 = 0; t0 < tokens; t0 += TileTokens)
        {
            int count = Math.Min(TileTokens, tokens - t0), stride = Padded(count);
            byte* quants = panel + (long)t0 * blocks * 256;
            byte* records = recordsAll + (long)t0 * blocks * RecordBytes;
            for (int r = r0; r < r1; r += Lanes)
            {
                for (int t = 0; t < count; t++) acc[t] = Vector256<float>.Zero;
                for (int b = 0; b < blocks; b++)
                {
                    byte* blk = w + r * rowBytes + b * 210L;
                    // The 16 int8 scales: lane r of sc_k holds row r's scales 4k..4k+3.
                    Transpose16(blk + 192, rowBytes, out var s0, out var s1, out var s2, out var s3);
                    byte* qb = quants + (long)b * stride * 256;
                    for (int t = 0; t < stride; t++) isum[t] = Vector256<int>.Zero;
                    for (int c = 0; c < 8; c++)
                    {
                        // Values 32c..32c+31 (dequantize_row_q6_K): half n = c/4 of ql/qh, then ql's low nibbles of
                        // bytes 0..31, of 32..63, the high nibbles of 0..31, of 32..63, with qh's bit pairs 0, 1, 2, 3.
                        int n = c / 4, k = c % 4;
                        byte* ql = blk + 64 * n + 32 * (k & 1);
                        byte* qh = blk + 128 + 32 * n;
                        byte nibbleShift = (byte)(4 * (k >> 1)), highShift = (byte)(2 * k);
                        Transpose16(ql, rowBytes, out var l0, out var l1, out var l2, out var l3);
                        Transpose16(qh, rowBytes, out var h0, out var h1, out var h2, out var h3);
                        var w0 = Six(l0, h0, nibbleShift, highShift, m4, m2);
                        var w1 = Six(l1, h1, nibbleShift, highShift, m4, m2);
                        var w2 = Six(l2, h2, nibbleShift, highShift, m4, m2);
                        var w3 = Six(l3, h3, nibbleShift, highShift, m4, m2);
                        Transpose16(ql + 16, rowBytes, out l0, out l1, out l2, out l3);
                        Transpose16(qh + 16, rowBytes, out h0, out h1, out h2, out h3);
                        var w4 = Six(l0, h0, nibbleShift, highShift, m4, m2);
                        var w5 = Six(l1, h1, nibbleShift, highShift, m4, m2);
                        var w6 = Six(l2, h2, nibbleShift, highShift, m4, m2);
                        var w7 = Six(l3, h3, nibbleShift, highShift, m4, m2);
                        // Groups 2c (values 0..15 of the 32: W_0..W_3) and 2c+1 (W_4..W_7).
                        var sk = ((c >> 1) switch { 0 => s0, 1 => s1, 2 => s2, _ => s3 }).AsInt32();
                        int byteA = 2 * (c & 1);
                        var scA = Avx2.ShiftRightArithmetic(Avx2.ShiftLeftLogical(sk, Vector128.CreateScalar(24 - 8 * byteA)), 24);
                        var scB = Avx2.ShiftRightArithmetic(Avx2.ShiftLeftLogical(sk, Vector128.CreateScalar(16 - 8 * byteA)), 24);
                        byte* q = qb + 32 * c;
                        for (int t = 0; t < stride; t += TokenStep, q += TokenStep * 256)
                        {
                            // Four tokens' chains interleaved (see RowLaneGemm.Dot4), one group of 16 values at a time.
                            Half4(q, w0, w1, w2, w3, out var a0, out var a1, out var a2, out var a3);
                            AddScaled(isum + t, a0, a1, a2, a3, scA);
                            Half4(q + 16, w4, w5, w6, w7, out a0, out a1, out a2, out a3);
                            AddScaled(isum + t, a0, a1, a2, a3, scB);
                        }
                    }
                    var d = Scales(blk + 208, rowBytes);
                    var p0 = BytePair(s0.AsInt32(), 0, true);
                    var p1 = BytePair(s0.AsInt32(), 2, true);
                    var p2 = BytePair(s1.AsInt32(), 0, true);
                    var p3 = BytePair(s1.AsInt32(), 2, true);
                    var p4 = BytePair(s2.AsInt32(), 0, true);
                    var p5 = BytePair(s2.AsInt32(), 2, true);
                    var p6 = BytePair(s3.AsInt32(), 0, true);
                    var p7 = BytePair(s3.AsInt32(), 2, true);
                    byte* rec = records + (long)b * stride * RecordBytes;
                    for (int t = 0; t < count; t++, rec += RecordBytes)
                    {
                        // Σ_g sc_g·bsum_g, the −32 offset's share.
                        var o = DotFast.DotS16(Vector256<int>.Zero, p0, Vector256.Create(*(int*)rec).AsInt16());
                        o = DotFast.DotS16(o, p1, Vector256.Create(*(int*)(rec + 4)).AsInt16());
                        o = DotFast.DotS16(o, p2, Vector256.Create(*(int*)(rec + 8)).AsInt16());
                        o = DotFast.DotS16(o, p3, Vector256.Create(*(int*)(rec + 12)).AsInt16());
                        o = DotFast.DotS16(o, p4, Vector256.Create(*(int*)(rec + 16)).AsInt16());
                        o = DotFast.DotS16(o, p5, Vector256.Create(*(int*)(rec + 20)).AsInt16());
                        o = DotFast.DotS16(o, p6, Vector256.Create(*(int*)(rec + 24)).AsInt16());
                        o = DotFast.DotS16(o, p7, Vector256.Create(*(int*)(rec + 28)).AsInt16());
                        var sum = Avx2.Subtract(isum[t], Avx2.ShiftLeftLogical(o, 5));
                        acc[t] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), Avx.Multiply(d, Vector256.Create(*(float*)(rec + 48))), acc[t]);
                    }
                }
                float* yr = y + (long)t0 * rows + r;
                for (int t = 0; t < count; t++) Avx.Store(yr + (long)t * rows, acc[t]);
            }
        }
    }

    /// <summary>Bit <paramref name="s"/> of each byte of <paramref name="qh"/> as that byte's bit 4 (0x10 or 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Fifth(Vector256<byte> qh, int s, Vector256<byte> m5)
    {
        var moved = s <= 4
            ? Avx2.ShiftLeftLogical(qh.AsUInt16(), Vector128.CreateScalar((ushort)(4 - s)))
            : Avx2.ShiftRightLogical(qh.AsUInt16(), Vector128.CreateScalar((ushort)(s - 4)));
        return Avx2.And(moved.AsByte(), m5);
    }

    /// <summary>Q6_K's unsigned 6-bit quants: the nibble of <paramref name="ql"/> at <paramref name="nibbleShift"/> and the
    /// bit pair of <paramref name="qh"/> at <paramref name="highShift"/> as bits 4..5.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Six(Vector256<byte> ql, Vector256<byte> qh, byte nibbleShift, byte highShift, Vector256<byte> m4, Vector256<byte> m2)
    {
        var low = Avx2.And(Avx2.ShiftRightLogical(ql.AsUInt16(), Vector128.CreateScalar((ushort)nibbleShift)).AsByte(), m4);
        var high = Avx2.And(Avx2.ShiftRightLogical(qh.AsUInt16(), Vector128.CreateScalar((ushort)highShift)).AsByte(), m2);
        return Avx2.Or(low, Avx2.ShiftLeftLogical(high.AsUInt16(), 4).AsByte());
    }

    /// <summary>isum[k] += s_k · sc for four consecutive tokens' sums (sc: the sub-block scale of each row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void AddScaled(Vector256<int>* isum, Vector256<int> s0, Vector256<int> s1, Vector256<int> s2, Vector256<int> s3,
        Vector256<int> sc)
    {
        isum[0] = Avx2.Add(isum[0], Avx2.MultiplyLow(s0, sc));
        isum[1] = Avx2.Add(isum[1], Avx2.MultiplyLow(s1, sc));
        isum[2] = Avx2.Add(isum[2], Avx2.MultiplyLow(s2, sc));
        isum[3] = Avx2.Add(isum[3], Avx2.MultiplyLow(s3, sc));
    }

    /// <summary>Σ over 16 values for four tokens (quants 256 bytes apart): 4 vpdpbusd each of W_0..W_3 against the
    /// tokens' broadcast dwords, the four chains interleaved.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Half4(byte* q, Vector256<byte> w0, Vector256<byte> w1, Vector256<byte> w2, Vector256<byte> w3,
        out Vector256<int> s0, out Vector256<int> s1, out Vector256<int> s2, out Vector256<int> s3)
    {
        s0 = s1 = s2 = s3 = Vector256<int>.Zero;
        Step4(ref s0, ref s1, ref s2, ref s3, w0, q, 256);
        Step4(ref s0, ref s1, ref s2, ref s3, w1, q + 4, 256);
        Step4(ref s0, ref s1, ref s2, ref s3, w2, q + 8, 256);
        Step4(ref s0, ref s1, ref s2, ref s3, w3, q + 12, 256);
    }
}
