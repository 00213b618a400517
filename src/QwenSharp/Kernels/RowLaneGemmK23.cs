using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static QwenSharp.Kernels.RowLaneGemm;

namespace QwenSharp.Kernels;

/// <summary>
/// The row-lane GEMM (see <see cref="RowLaneGemmK"/>, whose Q6_K kernel these follow) for Q2_K and Q3_K weights
/// against Q8_K activations: per group of 8 rows and 16 values the quants are transposed into W_0..W_3, each token
/// costs 4 vpdpbusd, and the group scales multiply the integer sums (vpmulld, 8 rows at once):
/// <list type="bullet">
/// <item>Q2_K: q = 0..3, value d·(sc_g &amp; 15)·q − dmin·(sc_g &gt;&gt; 4): y += y.d·(d·Σ_g sc_g·dot_g − dmin·Σ_g m_g·bsum_g).</item>
/// <item>Q3_K: q3 = 0..7 (two bits of qs, the third from hmask), value d·(s_g − 32)·(q3 − 4):
/// y += y.d·d·(Σ_g sc_g·dot_g − 4·Σ_g sc_g·bsum_g).</item>
/// </list>
/// Values 32c..32c+31 of a super-block (dequantize_row_q2_K/_q3_K): bytes 0..31 of qs half c/4 shifted right by
/// 2·(c % 4), and hmask's bit c of bytes 0..31. Same panel as RowLaneGemmK (bsums at 0, y.d at 48 of each record).
/// </summary>
internal static unsafe class RowLaneGemmK23
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q2_K(byte* w, long rowBytes, int r0, int r1, int rows, int cols, byte* panel, int tokens, float* y) =>
        Run(false, w, rowBytes, r0, r1, rows, cols, panel, tokens, y);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q3_K(byte* w, long rowBytes, int r0, int r1, int rows, int cols, byte* panel, int tokens, float* y) =>
        Run(true, w, rowBytes, r0, r1, rows, cols, panel, tokens, y);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run(bool three, byte* w, long rowBytes, int r0, int r1, int rows, int cols, byte* panel, int tokens, float* y)
    {
        RowLaneGemmK.Buffers(out var acc, out var isum);
        int blocks = cols / 256;
        int blockBytes = three ? 110 : 84;
        byte* recordsAll = panel + (long)Padded(tokens) * blocks * 256;
        var m2 = Vector256.Create((byte)0x03);
        var m1 = Vector256.Create((byte)0x01);
        var m4 = Vector256.Create((byte)0x0F);
        byte* scaleRows = stackalloc byte[8 * 16];
        for (int t0 = 0; t0 < tokens; t0 += TileTokens)
        {
            int count = Math.Min(TileTokens, tokens - t0), stride = Padded(count);
            byte* quants = panel + (long)t0 * blocks * 256;
            byte* records = recordsAll + (long)t0 * blocks * RowLaneGemmK.RecordBytes;
            for (int r = r0; r < r1; r += Lanes)
            {
                for (int t = 0; t < count; t++) acc[t] = Vector256<float>.Zero;
                for (int b = 0; b < blocks; b++)
                {
                    byte* blk = w + r * rowBytes + (long)b * blockBytes;
                    // The 16 group scales, lane r of s_k holding row r's scales 4k..4k+3 (Q3_K: as int8 s − 32; Q2_K: the
                    // packed bytes, scale in the low nibble, min in the high one).
                    Vector256<byte> s0, s1, s2, s3;
                    if (three)
                    {
                        for (int i = 0; i < 8; i++) KQuantScales.UnpackQ3K(blk + 96 + i * rowBytes, (sbyte*)scaleRows + 16 * i);
                        Transpose16(scaleRows, 16, out s0, out s1, out s2, out s3);
                        var bias = Vector256.Create((sbyte)32);
                        s0 = Avx2.Subtract(s0.AsSByte(), bias).AsByte(); s1 = Avx2.Subtract(s1.AsSByte(), bias).AsByte();
                        s2 = Avx2.Subtract(s2.AsSByte(), bias).AsByte(); s3 = Avx2.Subtract(s3.AsSByte(), bias).AsByte();
                    }
                    else Transpose16(blk, rowBytes, out s0, out s1, out s2, out s3);
                    byte* qs = blk + (three ? 32 : 16);
                    byte* qb = quants + (long)b * stride * 256;
                    for (int t = 0; t < stride; t++) isum[t] = Vector256<int>.Zero;
                    for (int c = 0; c < 8; c++)
                    {
                        byte* q2 = qs + 32 * (c / 4);
                        var shift = Vector128.CreateScalar((ushort)(2 * (c % 4)));
                        Transpose16(q2, rowBytes, out var l0, out var l1, out var l2, out var l3);
                        Transpose16(q2 + 16, rowBytes, out var l4, out var l5, out var l6, out var l7);
                        var w0 = Two(l0, shift, m2); var w1 = Two(l1, shift, m2); var w2 = Two(l2, shift, m2); var w3 = Two(l3, shift, m2);
                        var w4 = Two(l4, shift, m2); var w5 = Two(l5, shift, m2); var w6 = Two(l6, shift, m2); var w7 = Two(l7, shift, m2);
                        if (three)
                        {
                            var hs = Vector128.CreateScalar((ushort)c);
                            Transpose16(blk, rowBytes, out var h0, out var h1, out var h2, out var h3);
                            w0 = Third(w0, h0, hs, m1); w1 = Third(w1, h1, hs, m1); w2 = Third(w2, h2, hs, m1); w3 = Third(w3, h3, hs, m1);
                            Transpose16(blk + 16, rowBytes, out h0, out h1, out h2, out h3);
                            w4 = Third(w4, h0, hs, m1); w5 = Third(w5, h1, hs, m1); w6 = Third(w6, h2, hs, m1); w7 = Third(w7, h3, hs, m1);
                        }
                        // Groups 2c (values 0..15 of the 32: W_0..W_3) and 2c+1 (W_4..W_7).
                        var sk = ((c >> 1) switch { 0 => s0, 1 => s1, 2 => s2, _ => s3 }).AsInt32();
                        int byteA = 2 * (c & 1);
                        Vector256<int> scA, scB;
                        if (three)
                        {
                            scA = Avx2.ShiftRightArithmetic(Avx2.ShiftLeftLogical(sk, Vector128.CreateScalar(24 - 8 * byteA)), 24);
                            scB = Avx2.ShiftRightArithmetic(Avx2.ShiftLeftLogical(sk, Vector128.CreateScalar(16 - 8 * byteA)), 24);
                        }
                        else
                        {
                            scA = Avx2.And(Avx2.ShiftRightLogical(sk, Vector128.CreateScalar(8 * byteA)), Vector256.Create(0x0F));
                            scB = Avx2.And(Avx2.ShiftRightLogical(sk, Vector128.CreateScalar(8 * byteA + 8)), Vector256.Create(0x0F));
                        }
                        byte* q = qb + 32 * c;
                        for (int t = 0; t < stride; t += TokenStep, q += TokenStep * 256)
                        {
                            RowLaneGemmK.Half4(q, w0, w1, w2, w3, out var a0, out var a1, out var a2, out var a3);
                            RowLaneGemmK.AddScaled(isum + t, a0, a1, a2, a3, scA);
                            RowLaneGemmK.Half4(q + 16, w4, w5, w6, w7, out a0, out a1, out a2, out a3);
                            RowLaneGemmK.AddScaled(isum + t, a0, a1, a2, a3, scB);
                        }
                    }
                    // The offset (Q3_K: the scales, times 4) or min (Q2_K: the high nibbles) of each group as int16 pairs.
                    if (!three)
                    {
                        s0 = Avx2.And(Avx2.ShiftRightLogical(s0.AsUInt16(), 4).AsByte(), m4); s1 = Avx2.And(Avx2.ShiftRightLogical(s1.AsUInt16(), 4).AsByte(), m4);
                        s2 = Avx2.And(Avx2.ShiftRightLogical(s2.AsUInt16(), 4).AsByte(), m4); s3 = Avx2.And(Avx2.ShiftRightLogical(s3.AsUInt16(), 4).AsByte(), m4);
                    }
                    var p0 = RowLaneGemmK.BytePair(s0.AsInt32(), 0, three);
                    var p1 = RowLaneGemmK.BytePair(s0.AsInt32(), 2, three);
                    var p2 = RowLaneGemmK.BytePair(s1.AsInt32(), 0, three);
                    var p3 = RowLaneGemmK.BytePair(s1.AsInt32(), 2, three);
                    var p4 = RowLaneGemmK.BytePair(s2.AsInt32(), 0, three);
                    var p5 = RowLaneGemmK.BytePair(s2.AsInt32(), 2, three);
                    var p6 = RowLaneGemmK.BytePair(s3.AsInt32(), 0, three);
                    var p7 = RowLaneGemmK.BytePair(s3.AsInt32(), 2, three);
                    var d = Scales(blk + (three ? 108 : 80), rowBytes);
                    var dmin = three ? Vector256<float>.Zero : Scales(blk + 82, rowBytes);
                    byte* rec = records + (long)b * stride * RowLaneGemmK.RecordBytes;
                    for (int t = 0; t < count; t++, rec += RowLaneGemmK.RecordBytes)
                    {
                        var o = DotFast.DotS16(Vector256<int>.Zero, p0, Vector256.Create(*(int*)rec).AsInt16());
                        o = DotFast.DotS16(o, p1, Vector256.Create(*(int*)(rec + 4)).AsInt16());
                        o = DotFast.DotS16(o, p2, Vector256.Create(*(int*)(rec + 8)).AsInt16());
                        o = DotFast.DotS16(o, p3, Vector256.Create(*(int*)(rec + 12)).AsInt16());
                        o = DotFast.DotS16(o, p4, Vector256.Create(*(int*)(rec + 16)).AsInt16());
                        o = DotFast.DotS16(o, p5, Vector256.Create(*(int*)(rec + 20)).AsInt16());
                        o = DotFast.DotS16(o, p6, Vector256.Create(*(int*)(rec + 24)).AsInt16());
                        o = DotFast.DotS16(o, p7, Vector256.Create(*(int*)(rec + 28)).AsInt16());
                        var yd = Vector256.Create(*(float*)(rec + 48));
                        if (three)
                        {
                            var sum = Avx2.Subtract(isum[t], Avx2.ShiftLeftLogical(o, 2));
                            acc[t] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), Avx.Multiply(d, yd), acc[t]);
                        }
                        else
                        {
                            var a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(isum[t]), Avx.Multiply(d, yd), acc[t]);
                            acc[t] = Fma.MultiplyAddNegated(Avx.ConvertToVector256Single(o), Avx.Multiply(dmin, yd), a);
                        }
                    }
                }
                float* yr = y + (long)t0 * rows + r;
                for (int t = 0; t < count; t++) Avx.Store(yr + (long)t * rows, acc[t]);
            }
        }
    }

    /// <summary>The two bits at <paramref name="shift"/> of each byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Two(Vector256<byte> qs, Vector128<ushort> shift, Vector256<byte> m2) =>
        Avx2.And(Avx2.ShiftRightLogical(qs.AsUInt16(), shift).AsByte(), m2);

    /// <summary>Q3_K's third bit (bit <paramref name="shift"/> of each hmask byte) as 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Third(Vector256<byte> low, Vector256<byte> hm, Vector128<ushort> shift, Vector256<byte> m1) =>
        Avx2.Or(low, Avx2.ShiftLeftLogical(Avx2.And(Avx2.ShiftRightLogical(hm.AsUInt16(), shift).AsByte(), m1).AsUInt16(), 2).AsByte());
}
