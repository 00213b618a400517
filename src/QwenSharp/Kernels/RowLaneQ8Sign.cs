using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QwenSharp.Kernels;

/// <summary>
/// The row-lane GEMM for Q8_0 weights on the AVX2 tier (no vpdpbusd). <see cref="RowLaneGemm"/>'s Q8_0 kernel feeds
/// vpdpbusd the weights with their sign bit flipped (0..255), but without VNNI the product goes through vpmaddubsw, whose
/// int16 pair sums would saturate (2·255·127 > 32767). So here, as llama.cpp's AVX2 dot does per block pair, the
/// unsigned operand is |w| (at most 128) and the activation takes w's sign (vpsignb): pairs stay within 2·128·127.
/// The eight transposed registers hold |W_g| for the whole block; the signed W_g are read from a 256-byte buffer as
/// vpsignb's memory operand, so |W|, four tokens' accumulators and the temporaries fit the 16 ymm registers.
/// Each block's integer sum is exact, as the twin's; the packed activations carry no offset here (RowLanePack writes
/// 0 for Q8_0 on this tier).
/// </summary>
internal static unsafe class RowLaneQ8Sign
{
    [ThreadStatic] private static float* _acc;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows(byte* w, long rowBytes, int r0, int r1, int rows, int cols, byte* panel, int tokens, float* y)
    {
        if (_acc == null) _acc = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(RowLaneGemm.TileTokens * 32, 64);
        var acc = (Vector256<float>*)_acc;
        var signed = stackalloc Vector256<sbyte>[RowLaneGemm.Lanes];
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
                    long ahead = b * 34L + 512;
                    if (ahead >= rowBytes) ahead += (RowLaneGemm.Lanes - 1) * rowBytes;
                    byte* next = wr + ahead;
                    Sse.Prefetch0(next); Sse.Prefetch0(next + rowBytes); Sse.Prefetch0(next + 2 * rowBytes); Sse.Prefetch0(next + 3 * rowBytes);
                    Sse.Prefetch0(next + 4 * rowBytes); Sse.Prefetch0(next + 5 * rowBytes); Sse.Prefetch0(next + 6 * rowBytes); Sse.Prefetch0(next + 7 * rowBytes);
                    byte* block = wr + b * 34L;
                    RowLaneGemm.Transpose16(block + 2, rowBytes, out var w0, out var w1, out var w2, out var w3);
                    RowLaneGemm.Transpose16(block + 18, rowBytes, out var w4, out var w5, out var w6, out var w7);
                    signed[0] = w0.AsSByte(); signed[1] = w1.AsSByte(); signed[2] = w2.AsSByte(); signed[3] = w3.AsSByte();
                    signed[4] = w4.AsSByte(); signed[5] = w5.AsSByte(); signed[6] = w6.AsSByte(); signed[7] = w7.AsSByte();
                    var a0 = Avx2.Abs(w0.AsSByte()); var a1 = Avx2.Abs(w1.AsSByte()); var a2 = Avx2.Abs(w2.AsSByte()); var a3 = Avx2.Abs(w3.AsSByte());
                    var a4 = Avx2.Abs(w4.AsSByte()); var a5 = Avx2.Abs(w5.AsSByte()); var a6 = Avx2.Abs(w6.AsSByte()); var a7 = Avx2.Abs(w7.AsSByte());
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

    /// <summary>|W_g| against dword g of four tokens' quants, each signed by W_g (q: token 0's quants, 32 bytes apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step4(ref Vector256<int> s0, ref Vector256<int> s1, ref Vector256<int> s2, ref Vector256<int> s3,
        Vector256<byte> magnitude, Vector256<sbyte>* signed, int g, byte* q)
    {
        var wg = signed[g];
        s0 = Product(s0, magnitude, wg, *(int*)(q + 4 * g));
        s1 = Product(s1, magnitude, wg, *(int*)(q + 32 + 4 * g));
        s2 = Product(s2, magnitude, wg, *(int*)(q + 64 + 4 * g));
        s3 = Product(s3, magnitude, wg, *(int*)(q + 96 + 4 * g));
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
