using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QwenSharp.Kernels;

/// <summary>
/// The row-lane GEMM (see <see cref="RowLaneGemm"/>) for IQ4_NL weights against Q8_0 activations. An IQ4_NL block is
/// Q4_0's layout (an fp16 d, then 16 bytes of nibbles: low nibbles values 0..15, high 16..31) whose nibbles index
/// llama.cpp's non-linear grid kvalues_iq4nl (−127..113) instead of standing for q − 8. After the nibbles of 8 rows
/// are transposed (as Q4_0's), one vpshufb per register looks the grid up.
/// <para>With VNNI (<see cref="IQ4_NLRows"/>): the grid is looked up moved by 128 (1..241) as vpdpbusd's unsigned
/// operand, and the sums start at −128·Σa, as Q8_0's flipped weights do. Without VNNI vpmaddubsw's int16 pair sums
/// would saturate at 2·241·127, so <see cref="SignRows"/> does what <see cref="RowLaneQ8Sign"/> does for Q8_0 (and
/// ggml's AVX2 IQ4_NL dot per block): |w| (at most 127) is the unsigned operand and the activation takes w's sign
/// (vpsignb; no grid value is 0). Each block's integer sum is exact either way, equal to the twin's
/// (<see cref="DotPlain"/>'s IQ4_NL); <see cref="RowLanePack"/> writes the matching offset (128, or 0). IQ4_XS, the
/// same grid in super-blocks with 6-bit group scales: <see cref="RowLaneIq4Xs"/>.</para>
/// </summary>
internal static unsafe class RowLaneIq4
{
    /// <summary>kvalues_iq4nl + 128, in both 128-bit lanes for vpshufb.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> GridUnsigned()
    {
        var grid = Vector128.Create((byte)1, 24, 45, 63, 79, 93, 106, 118, 129, 141, 153, 166, 181, 197, 217, 241);
        return Vector256.Create(grid, grid);
    }

    /// <summary>kvalues_iq4nl (ggml-common.h), in both 128-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<sbyte> GridSigned()
    {
        var grid = Vector128.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
        return Vector256.Create(grid, grid);
    }

    /// <summary>|kvalues_iq4nl|, in both 128-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> GridMagnitude()
    {
        var grid = Vector128.Create((byte)127, 104, 83, 65, 49, 35, 22, 10, 1, 13, 25, 38, 53, 69, 89, 113);
        return Vector256.Create(grid, grid);
    }

    /// <summary>IQ4_NL with VNNI: q = grid value + 128, offset 128.</summary>
    internal struct IQ4_NLRows : RowLaneGemm.IRowBlock
    {
        public static int BlockBytes => 18;
        public static bool HasMin => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* block, long rowBytes,
            out Vector256<byte> w0, out Vector256<byte> w1, out Vector256<byte> w2, out Vector256<byte> w3,
            out Vector256<byte> w4, out Vector256<byte> w5, out Vector256<byte> w6, out Vector256<byte> w7,
            out Vector256<float> d, out Vector256<float> m)
        {
            RowLaneGemm.Nibbles(block + 2, rowBytes, out w0, out w1, out w2, out w3, out w4, out w5, out w6, out w7);
            var grid = GridUnsigned();
            w0 = Avx2.Shuffle(grid, w0); w1 = Avx2.Shuffle(grid, w1); w2 = Avx2.Shuffle(grid, w2); w3 = Avx2.Shuffle(grid, w3);
            w4 = Avx2.Shuffle(grid, w4); w5 = Avx2.Shuffle(grid, w5); w6 = Avx2.Shuffle(grid, w6); w7 = Avx2.Shuffle(grid, w7);
            d = RowLaneGemm.Scales(block, rowBytes);
            m = default;
        }
    }

    [ThreadStatic] private static float* _acc;

    /// <summary>IQ4_NL without VNNI: y[t·rows + r] for rows r0 ≤ r &lt; r1 (whole groups of 8) and every token, from the
    /// panel <see cref="RowLanePack"/> filled (offset 0). The signed W_g live in a 256-byte buffer read as vpsignb's
    /// memory operand, so |W|, four tokens' sums and the temporaries fit the 16 ymm registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SignRows(byte* w, long rowBytes, int r0, int r1, int rows, int cols, byte* panel, int tokens, float* y)
    {
        if (_acc == null) _acc = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(RowLaneGemm.TileTokens * 32, 64);
        var acc = (Vector256<float>*)_acc;
        var signed = stackalloc Vector256<sbyte>[RowLaneGemm.Lanes];
        var gridSigned = GridSigned();
        var gridMagnitude = GridMagnitude();
        int blocks = cols / 32;
        byte* recordsAll = panel + (long)RowLaneGemm.Padded(tokens) * blocks * 32;
        for (int t0 = 0; t0 < tokens; t0 += RowLaneGemm.TileTokens)
        {
            int count = Math.Min(RowLaneGemm.TileTokens, tokens - t0), stride = RowLaneGemm.Padded(count);
            byte* quants = panel + (long)t0 * blocks * 32;
            byte* records = recordsAll + (long)t0 * blocks * 8;
            for (int r = r0; r < r1; r += RowLaneGemm.Lanes)
            {
                for (int t = 0; t < stride; t++) acc[t] = Vector256<float>.Zero;
                byte* wr = w + r * rowBytes;
                for (int b = 0; b < blocks; b++)
                {
                    // As RowLaneGemm: each row's bytes 512 ahead are asked for now (8 streams outrun the prefetcher).
                    long ahead = b * 18L + 512;
                    if (ahead >= rowBytes) ahead += (RowLaneGemm.Lanes - 1) * rowBytes;
                    for (int k = 0; k < RowLaneGemm.Lanes; k++) Sse.Prefetch0(wr + ahead + k * rowBytes);
                    byte* block = wr + b * 18L;
                    RowLaneGemm.Nibbles(block + 2, rowBytes, out var n0, out var n1, out var n2, out var n3, out var n4, out var n5, out var n6, out var n7);
                    signed[0] = Avx2.Shuffle(gridSigned, n0.AsSByte()); signed[1] = Avx2.Shuffle(gridSigned, n1.AsSByte());
                    signed[2] = Avx2.Shuffle(gridSigned, n2.AsSByte()); signed[3] = Avx2.Shuffle(gridSigned, n3.AsSByte());
                    signed[4] = Avx2.Shuffle(gridSigned, n4.AsSByte()); signed[5] = Avx2.Shuffle(gridSigned, n5.AsSByte());
                    signed[6] = Avx2.Shuffle(gridSigned, n6.AsSByte()); signed[7] = Avx2.Shuffle(gridSigned, n7.AsSByte());
                    var a0 = Avx2.Shuffle(gridMagnitude, n0); var a1 = Avx2.Shuffle(gridMagnitude, n1);
                    var a2 = Avx2.Shuffle(gridMagnitude, n2); var a3 = Avx2.Shuffle(gridMagnitude, n3);
                    var a4 = Avx2.Shuffle(gridMagnitude, n4); var a5 = Avx2.Shuffle(gridMagnitude, n5);
                    var a6 = Avx2.Shuffle(gridMagnitude, n6); var a7 = Avx2.Shuffle(gridMagnitude, n7);
                    var dw = RowLaneGemm.Scales(block, rowBytes);
                    byte* q = quants + (long)b * stride * 32;
                    byte* rec = records + (long)b * stride * 8;
                    for (int t = 0; t < stride; t += RowLaneGemm.TokenStep, q += RowLaneGemm.TokenStep * 32, rec += RowLaneGemm.TokenStep * 8)
                    {
                        Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                        Step4(ref s0, ref s1, ref s2, ref s3, a0, signed, 0, q);
                        Step4(ref s0, ref s1, ref s2, ref s3, a1, signed, 1, q);
                        Step4(ref s0, ref s1, ref s2, ref s3, a2, signed, 2, q);
                        Step4(ref s0, ref s1, ref s2, ref s3, a3, signed, 3, q);
                        Step4(ref s0, ref s1, ref s2, ref s3, a4, signed, 4, q);
                        Step4(ref s0, ref s1, ref s2, ref s3, a5, signed, 5, q);
                        Step4(ref s0, ref s1, ref s2, ref s3, a6, signed, 6, q);
                        Step4(ref s0, ref s1, ref s2, ref s3, a7, signed, 7, q);
                        acc[t] = Scale(s0, dw, rec, acc[t]);
                        acc[t + 1] = Scale(s1, dw, rec + 8, acc[t + 1]);
                        acc[t + 2] = Scale(s2, dw, rec + 16, acc[t + 2]);
                        acc[t + 3] = Scale(s3, dw, rec + 24, acc[t + 3]);
                    }
                }
                float* yr = y + (long)t0 * rows + r;
                for (int t = 0; t < count; t++) Avx.Store(yr + (long)t * rows, acc[t]);
            }
        }
    }

    /// <summary>|W_g| against dword g of four tokens' quants, each signed by W_g (q: token 0's quants, the tokens
    /// <paramref name="step"/> bytes apart: 32 in the Q8_0 panel, 256 in the Q8_K one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Step4(ref Vector256<int> s0, ref Vector256<int> s1, ref Vector256<int> s2, ref Vector256<int> s3,
        Vector256<byte> magnitude, Vector256<sbyte>* signed, int g, byte* q, int step = 32)
    {
        var wg = signed[g];
        s0 = Product(s0, magnitude, wg, *(int*)(q + 4 * g));
        s1 = Product(s1, magnitude, wg, *(int*)(q + step + 4 * g));
        s2 = Product(s2, magnitude, wg, *(int*)(q + 2 * step + 4 * g));
        s3 = Product(s3, magnitude, wg, *(int*)(q + 3 * step + 4 * g));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Product(Vector256<int> acc, Vector256<byte> magnitude, Vector256<sbyte> w, int activations)
    {
        var p16 = Avx2.MultiplyAddAdjacent(magnitude, Avx2.Sign(Vector256.Create(activations).AsSByte(), w));
        return Avx2.Add(acc, Avx2.MultiplyAddAdjacent(p16, Vector256<short>.One));
    }

    /// <summary>acc + (d_w·d_a)·sum for one token's block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scale(Vector256<int> sum, Vector256<float> dw, byte* rec, Vector256<float> acc) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), Avx.Multiply(dw, Vector256.Create(*(float*)(rec + 4))), acc);
}
