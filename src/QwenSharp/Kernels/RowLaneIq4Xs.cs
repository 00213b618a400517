using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static QwenSharp.Kernels.RowLaneGemm;

namespace QwenSharp.Kernels;

/// <summary>
/// The row-lane GEMM (see <see cref="RowLaneGemm"/>) for IQ4_XS weights against Q8_K activations. An IQ4_XS super-block
/// of 256 values (136 bytes: fp16 d, scales_h, scales_l[4], qs[128]) is 8 groups of 32, group g's 16 bytes of nibbles at
/// qs + 16g laid out as an IQ4_NL block's, indexing the same grid, with a 6-bit scale ls_g (low 4 bits in nibble g of
/// scales_l, high 2 in bits 2g..2g+1 of scales_h): value d·(ls_g − 32)·grid[q], as ggml's dequantize_row_iq4_xs.
/// Per group the 8 rows' nibbles are transposed (<see cref="RowLaneGemm.Nibbles"/>) and looked up as
/// <see cref="RowLaneIq4"/> does, the group sums of four tokens at a time times each row's ls_g − 32 (vpmulld) go into a
/// per-token int32 super-block sum, then one FMA by d·y.d per token, as <see cref="DotPlain"/>'s IQ4_XS forms it.
/// <para>With VNNI the grid is looked up + 128 for vpdpbusd, and 128·Σ_g (ls_g − 32)·Σa_g comes off the super-block sum
/// through 4 vpdpwssd of the rows' int16 scales against the token's group sums (the panel's pair sums, as Q4_K's min
/// term). Without VNNI |w| is the unsigned operand and the activation takes w's sign (no offset). Bounds: a group sum
/// is at most 32·241·127 in magnitude, times 32, times 8 groups: below 2^28.</para>
/// Panel: <see cref="RowLanePack"/>'s K layout (256 quants per super-block, 64-byte records: pair sums at 32, y.d at 48).
/// </summary>
internal static unsafe class RowLaneIq4Xs
{
    private const long BlockBytes = 136;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows(byte* w, long rowBytes, int r0, int r1, int rows, int cols, byte* panel, int tokens, float* y)
    {
        RowLaneGemmK.Buffers(out var acc, out var isum);
        var signed = stackalloc Vector256<sbyte>[Lanes];
        bool vnni = KernelTiers.Vnni;
        var gridUnsigned = RowLaneIq4.GridUnsigned();
        var gridSigned = RowLaneIq4.GridSigned();
        var gridMagnitude = RowLaneIq4.GridMagnitude();
        int blocks = cols / 256;
        byte* recordsAll = panel + (long)Padded(tokens) * blocks * 256;
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
                    byte* blk = w + r * rowBytes + b * BlockBytes;
                    // Lane r: row r's scales_h (low 16 bits of the dword at 2) and scales_l (the dword at 4).
                    var high = RowLaneGemmK.Dwords(blk + 2, rowBytes);
                    var low = RowLaneGemmK.Dwords(blk + 4, rowBytes);
                    byte* qb = quants + (long)b * stride * 256;
                    for (int t = 0; t < stride; t++) isum[t] = Vector256<int>.Zero;
                    Vector256<int> even = default, pair01 = default, pair23 = default, pair45 = default, pair67 = default;
                    for (int g = 0; g < 8; g++)
                    {
                        var sc = Avx2.Subtract(Avx2.Or(
                            Avx2.And(Avx2.ShiftRightLogical(low, Vector128.CreateScalar(4 * g)), Vector256.Create(0x0F)),
                            Avx2.ShiftLeftLogical(Avx2.And(Avx2.ShiftRightLogical(high, Vector128.CreateScalar(2 * g)), Vector256.Create(3)), 4)),
                            Vector256.Create(32));
                        // The scales as int16 pairs (group 2k in the low half, 2k+1 in the high) for the offset term.
                        if ((g & 1) == 0) even = Avx2.And(sc, Vector256.Create(0xFFFF));
                        else
                        {
                            var pair = Avx2.Or(even, Avx2.ShiftLeftLogical(sc, 16));
                            switch (g)
                            {
                                case 1: pair01 = pair; break;
                                case 3: pair23 = pair; break;
                                case 5: pair45 = pair; break;
                                default: pair67 = pair; break;
                            }
                        }
                        Nibbles(blk + 8 + 16 * g, rowBytes, out var n0, out var n1, out var n2, out var n3, out var n4, out var n5, out var n6, out var n7);
                        byte* q = qb + 32 * g;
                        if (vnni)
                        {
                            var w0 = Avx2.Shuffle(gridUnsigned, n0); var w1 = Avx2.Shuffle(gridUnsigned, n1);
                            var w2 = Avx2.Shuffle(gridUnsigned, n2); var w3 = Avx2.Shuffle(gridUnsigned, n3);
                            var w4 = Avx2.Shuffle(gridUnsigned, n4); var w5 = Avx2.Shuffle(gridUnsigned, n5);
                            var w6 = Avx2.Shuffle(gridUnsigned, n6); var w7 = Avx2.Shuffle(gridUnsigned, n7);
                            for (int t = 0; t < stride; t += TokenStep, q += TokenStep * 256)
                            {
                                var z = Vector256<int>.Zero;
                                Dot4(z, z, z, z, q, 256, w0, w1, w2, w3, w4, w5, w6, w7, out var i0, out var i1, out var i2, out var i3);
                                RowLaneGemmK.AddScaled(isum + t, i0, i1, i2, i3, sc);
                            }
                        }
                        else
                        {
                            signed[0] = Avx2.Shuffle(gridSigned, n0.AsSByte()); signed[1] = Avx2.Shuffle(gridSigned, n1.AsSByte());
                            signed[2] = Avx2.Shuffle(gridSigned, n2.AsSByte()); signed[3] = Avx2.Shuffle(gridSigned, n3.AsSByte());
                            signed[4] = Avx2.Shuffle(gridSigned, n4.AsSByte()); signed[5] = Avx2.Shuffle(gridSigned, n5.AsSByte());
                            signed[6] = Avx2.Shuffle(gridSigned, n6.AsSByte()); signed[7] = Avx2.Shuffle(gridSigned, n7.AsSByte());
                            var a0 = Avx2.Shuffle(gridMagnitude, n0); var a1 = Avx2.Shuffle(gridMagnitude, n1);
                            var a2 = Avx2.Shuffle(gridMagnitude, n2); var a3 = Avx2.Shuffle(gridMagnitude, n3);
                            var a4 = Avx2.Shuffle(gridMagnitude, n4); var a5 = Avx2.Shuffle(gridMagnitude, n5);
                            var a6 = Avx2.Shuffle(gridMagnitude, n6); var a7 = Avx2.Shuffle(gridMagnitude, n7);
                            for (int t = 0; t < stride; t += TokenStep, q += TokenStep * 256)
                            {
                                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                                RowLaneIq4.Step4(ref s0, ref s1, ref s2, ref s3, a0, signed, 0, q, 256);
                                RowLaneIq4.Step4(ref s0, ref s1, ref s2, ref s3, a1, signed, 1, q, 256);
                                RowLaneIq4.Step4(ref s0, ref s1, ref s2, ref s3, a2, signed, 2, q, 256);
                                RowLaneIq4.Step4(ref s0, ref s1, ref s2, ref s3, a3, signed, 3, q, 256);
                                RowLaneIq4.Step4(ref s0, ref s1, ref s2, ref s3, a4, signed, 4, q, 256);
                                RowLaneIq4.Step4(ref s0, ref s1, ref s2, ref s3, a5, signed, 5, q, 256);
                                RowLaneIq4.Step4(ref s0, ref s1, ref s2, ref s3, a6, signed, 6, q, 256);
                                RowLaneIq4.Step4(ref s0, ref s1, ref s2, ref s3, a7, signed, 7, q, 256);
                                RowLaneGemmK.AddScaled(isum + t, s0, s1, s2, s3, sc);
                            }
                        }
                    }
                    var d = Scales(blk, rowBytes);
                    byte* rec = records + (long)b * stride * RowLaneGemmK.RecordBytes;
                    for (int t = 0; t < count; t++, rec += RowLaneGemmK.RecordBytes)
                    {
                        var sum = isum[t];
                        if (vnni)
                        {
                            // Σ_g (ls_g − 32)·Σa_g: the +128 of the looked-up grid taken back off.
                            var o = DotFast.DotS16(Vector256<int>.Zero, pair01.AsInt16(), Vector256.Create(*(int*)(rec + 32)).AsInt16());
                            o = DotFast.DotS16(o, pair23.AsInt16(), Vector256.Create(*(int*)(rec + 36)).AsInt16());
                            o = DotFast.DotS16(o, pair45.AsInt16(), Vector256.Create(*(int*)(rec + 40)).AsInt16());
                            o = DotFast.DotS16(o, pair67.AsInt16(), Vector256.Create(*(int*)(rec + 44)).AsInt16());
                            sum = Avx2.Subtract(sum, Avx2.ShiftLeftLogical(o, 7));
                        }
                        acc[t] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), Avx.Multiply(d, Vector256.Create(*(float*)(rec + 48))), acc[t]);
                    }
                }
                float* yr = y + (long)t0 * rows + r;
                for (int t = 0; t < count; t++) Avx.Store(yr + (long)t * rows, acc[t]);
            }
        }
    }
}
