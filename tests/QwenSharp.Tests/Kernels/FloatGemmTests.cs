using System.Runtime.InteropServices;
using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Kernels;

/// <summary>
/// The float-weight prefill GEMM (<see cref="FloatGemm"/>, reached through MatMul with two tokens or more) against
/// a double-precision reference on the same operands: weights converted exactly, activations rounded to the
/// weight's format as llama.cpp does (IEEE round-to-nearest-even to F16; ggml_compute_fp32_to_bf16 to BF16).
/// Each output is one f32 accumulator updated by FMA in k order, so its error against the exact sum is at most
/// γ_K·Σ|w·a| with γ_K = K·2⁻²⁴/(1 − K·2⁻²⁴) (Higham, recursive summation; the products are exact inside the FMA).
/// </summary>
public class FloatGemmTests
{
    public static TheoryData<GgmlType> Types => new() { GgmlType.F32, GgmlType.F16, GgmlType.BF16 };

    [Theory]
    [MemberData(nameof(Types))]
    public void RowTailsAndTokenCountsMatchTheReference(GgmlType type)
    {
        using var pool = new WorkerPool(1);
        foreach (int cols in new[] { 1, 16, 37 })
            for (int rows = 1; rows <= 17; rows++)
                for (int tokens = 2; tokens <= 20; tokens++)
                    Check(type, rows, cols, tokens, pool, seed: rows * 1000 + tokens * 10 + cols);
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void EveryShortRowLengthMatchesTheReference(GgmlType type)
    {
        using var pool = new WorkerPool(1);
        for (int cols = 1; cols <= 70; cols++)
        {
            Check(type, 5, cols, 13, pool, seed: cols);
            Check(type, 33, cols, 3, pool, seed: 100 + cols);
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void LongBatchesAndWideRowsMatchTheReference(GgmlType type)
    {
        // Two workers: parts of whole 32-row panels, and a last part that ends inside one.
        using var pool = new WorkerPool(2);
        foreach (int tokens in new[] { 24, 37, 130 })
        {
            Check(type, 17, 70, tokens, pool, seed: tokens);
            Check(type, 67, 70, tokens, pool, seed: 1 + tokens);
        }
        Check(type, 35, 896, 13, pool, seed: 7);
        Check(type, 40, 4864, 14, pool, seed: 8);
        Check(type, 130, 896, 2, pool, seed: 9);
        // One worker: parts of 5-6 panels, converted four at a time, the last panel 28 rows.
        using var one = new WorkerPool(1);
        Check(type, 700, 70, 13, one, seed: 10);
        Check(type, 700, 1030, 3, one, seed: 11);
    }

    private static unsafe void Check(GgmlType type, int rows, int cols, int tokens, WorkerPool pool, int seed)
    {
        var w = TestData.Normal(rows * cols, seed, 0.1f, edgeBlocks: false);
        var x = TestData.Normal(tokens * cols, seed + 1, edgeBlocks: false);
        using var m = NativeMatrix.Quantized(type, w, rows, cols);
        var y = new float[tokens * rows];
        fixed (float* px = x, py = y)
            MatMul.Run(type, m.Pointer, rows, cols, px, py, tokens, pool, exact: false, plain: false);

        var wr = new float[cols];
        double gamma = cols * Math.Pow(2, -24) / (1 - cols * Math.Pow(2, -24));
        for (int r = 0; r < rows; r++)
        {
            Dequantize.Row(type, m.Pointer + r * GgmlTypeInfo.RowBytes(type, cols), wr);
            for (int t = 0; t < tokens; t++)
            {
                double sum = 0, abs = 0;
                for (int k = 0; k < cols; k++)
                {
                    double p = (double)wr[k] * Round(type, x[t * cols + k]);
                    sum += p;
                    abs += Math.Abs(p);
                }
                double got = y[t * rows + r];
                Assert.True(Math.Abs(got - sum) <= gamma * abs + 1e-30,
                    $"{type} rows {rows} cols {cols} tokens {tokens}: y[{t}, {r}] = {got}, exact {sum}, bound {gamma * abs}.");
            }
        }
    }

    private static float Round(GgmlType type, float v) => type switch
    {
        GgmlType.F16 => (float)(Half)v,
        GgmlType.BF16 => BitConverter.UInt32BitsToSingle((uint)FloatFormats.SingleToBFloat16(v) << 16),
        _ => v,
    };

    [Fact]
    public unsafe void VectorKernelsEqualThePlainTwin()
    {
        // All three kernels update one f32 accumulator per output by FMA in k order (from y's value with add, as
        // when the columns are split): the results are identical.
        const int cols = 53;
        var panel = (float*)NativeMemory.AlignedAlloc(FloatPanel.Rows * cols * sizeof(float), 64);
        var a = (float*)NativeMemory.AlignedAlloc(FloatPanel.Tokens * cols * sizeof(float), 64);
        try
        {
            var rng = new Random(5);
            for (int i = 0; i < FloatPanel.Rows * cols; i++) panel[i] = (float)(rng.NextDouble() - 0.5);
            for (int i = 0; i < FloatPanel.Tokens * cols; i++) a[i] = (float)(rng.NextDouble() - 0.5);
            foreach (bool add in new[] { false, true })
                for (int count = 1; count <= FloatPanel.Tokens; count++)
                    foreach (int rows in new[] { 1, 17, 31, 32 })
                    {
                        // Starting values (for add) in every slot, so that a write past the rows would show.
                        var plain = new float[count * 40];
                        for (int i = 0; i < plain.Length; i++) plain[i] = (float)(rng.NextDouble() - 0.5);
                        var fast = (float[])plain.Clone();
                        var ymm = (float[])plain.Clone();
                        fixed (float* pp = plain, pf = fast, py = ymm)
                        {
                            FloatGemm.TilePlain(panel, a, cols, count, pp, 40, rows, add);
                            FloatGemm.Tile(panel, a, cols, count, pf, 40, rows, add);
                            FloatGemm.Tile256(panel, a, cols, count, py, 40, rows, add);
                        }
                        Assert.Equal(plain, fast);
                        Assert.Equal(plain, ymm);
                    }
        }
        finally
        {
            NativeMemory.AlignedFree(panel);
            NativeMemory.AlignedFree(a);
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public unsafe void PanelsHoldEveryWeightConvertedExactly(GgmlType type)
    {
        // Random bit patterns: fp16/bf16 subnormals, infinities and NaNs included.
        var rng = new Random(11);
        foreach (int cols in new[] { 1, 15, 16, 17, 33, 70 })
            for (int rows = 1; rows <= FloatPanel.Rows; rows += 5)
            {
                long rowBytes = GgmlTypeInfo.RowBytes(type, cols);
                var bytes = new byte[rowBytes * rows];
                rng.NextBytes(bytes);
                using var m = new NativeMatrix(type, rows, cols, bytes);
                var panel = new float[FloatPanel.Rows * cols];
                fixed (float* p = panel) FloatPanel.PackWeights(type, m.Pointer, rowBytes, rows, cols, p);
                var wr = new float[cols];
                for (int r = 0; r < FloatPanel.Rows; r++)
                {
                    if (r < rows) Dequantize.Row(type, m.Pointer + r * rowBytes, wr);
                    else Array.Clear(wr);
                    for (int k = 0; k < cols; k++)
                        Assert.True(wr[k].Equals(panel[k * FloatPanel.Rows + r]),
                            $"{type} cols {cols} row {r} column {k}: panel {panel[k * FloatPanel.Rows + r]}, expected {wr[k]}.");
                }
            }
    }

    [Theory]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    public unsafe void VectorRoundingEqualsTheScalarConversion(GgmlType type)
    {
        // Random bit patterns cover every exponent; the listed values sit on the F16 edges (subnormal ties, the
        // largest finite half and the overflow threshold 65520, the smallest normal).
        var specials = new uint[]
        {
            0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffffffff, 0x33000000, 0x33000001,
            0x33800000, 0x33c00000, 0x387fc000, 0x387fe000, 0x38800000, 0x477fe000, 0x477fefff, 0x477ff000, 0x47800000,
            0x3f801000, 0x3f803000, 0x3f800fff, 0x00000001, 0x7f7fffff, 0x3f808000, 0x3f818000,
        };
        var rng = new Random(3);
        var src = new float[16];
        var dst = new float[16];
        for (int n = 0; n < 200_000; n++)
        {
            for (int i = 0; i < 16; i++)
            {
                int s = n * 16 + i;
                src[i] = BitConverter.UInt32BitsToSingle(s < specials.Length ? specials[s] : (uint)rng.NextInt64(0, 1L << 32));
            }
            fixed (float* ps = src, pd = dst) FloatPanel.Round16(type, ps, pd);
            for (int i = 0; i < 16; i++)
            {
                float expected = Round(type, src[i]);
                Assert.True(float.IsNaN(expected) ? float.IsNaN(dst[i]) : BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(dst[i]),
                    $"{type} of 0x{BitConverter.SingleToUInt32Bits(src[i]):X8}: {dst[i]} vs {expected}.");
            }
        }
    }
}
