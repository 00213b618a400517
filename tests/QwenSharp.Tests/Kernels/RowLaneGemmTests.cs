using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Kernels;

/// <summary>The row-lane GEMM (taken by <see cref="MatMul"/> for batches of quantized weights) against the plain
/// dot products: row counts 1..17 (whole groups of 8 and the tails the other kernels take), token counts across the
/// tile and the threshold (1..20, then 128..257 over two tiles), row lengths of every block count up to 256 and the 0.5B model's 896/4864.
/// The integer sum per block is the same in both; only the float order and FMA rounding differ.</summary>
public class RowLaneGemmTests
{
    public static TheoryData<GgmlType> Types => new()
    {
        GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_1, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q6_K,
        GgmlType.IQ4_NL, GgmlType.Q5_K, GgmlType.IQ4_XS,
    };

    [Fact]
    public void CoversTheFormatsAtTheX86Tiers()
    {
        foreach (var type in new[] { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_1, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS })
            Assert.Equal(KernelTiers.X86, RowLaneGemm.Covers(type));
        foreach (var type in new[] { GgmlType.F32, GgmlType.F16, GgmlType.BF16 })
            Assert.False(RowLaneGemm.Covers(type));
    }

    /// <summary>The 512-bit Q8_0 transposition (what AVX-512 machines run) against the two 256-bit transposes and the
    /// sign flips it replaced (what AVX2-only machines still run), register for register, on random rows at an odd
    /// stride.</summary>
    [Fact]
    public unsafe void WideTransposeEqualsTheNarrowOne()
    {
        if (!Avx512F.IsSupported) return; // only the narrow path exists on this CPU (the check is of the CPU, not the tier: both paths are called directly)
        var rng = new Random(11);
        const int rowBytes = 34 * 3 + 5;
        var rows = new byte[rowBytes * 8 + 64];
        for (int trial = 0; trial < 20; trial++)
        {
            rng.NextBytes(rows);
            fixed (byte* p = rows)
            {
                byte* at = p + trial % 7;
                RowLaneGemm.Transpose32Flipped(at, rowBytes, out var w0, out var w1, out var w2, out var w3, out var w4, out var w5, out var w6, out var w7);
                RowLaneGemm.Transpose16(at, rowBytes, out var n0, out var n1, out var n2, out var n3);
                RowLaneGemm.Transpose16(at + 16, rowBytes, out var n4, out var n5, out var n6, out var n7);
                var flip = Vector256.Create((byte)0x80);
                var wide = new[] { w0, w1, w2, w3, w4, w5, w6, w7 };
                var narrow = new[] { n0, n1, n2, n3, n4, n5, n6, n7 };
                for (int g = 0; g < 8; g++)
                {
                    Assert.Equal(narrow[g] ^ flip, wide[g]);
                    for (int r = 0; r < 8; r++) // lane r of register g: bytes 4g..4g+3 of row r, sign bit flipped
                        for (int k = 0; k < 4; k++)
                            Assert.Equal((byte)(at[r * rowBytes + 4 * g + k] ^ 0x80), wide[g].GetElement(4 * r + k));
                }
            }
        }
    }

    /// <summary>The packer's 8-lane Q8_0 against <see cref="ActivationQuantizer"/> (itself checked byte for byte
    /// against llama.cpp in MatMulTests): zero, constant, outlier and one-signed blocks, ties at .5, large values.</summary>
    [Fact]
    public unsafe void PackerQuantizesAsLlamaCpp()
    {
        var x = TestData.Normal(32 * 200, 3);
        for (int j = 0; j < 32; j++) x[32 * 199 + j] = (j - 16) * 127f / 16; // q = x·127/amax lands on halves
        for (int j = 0; j < 32; j++) x[32 * 198 + j] = j % 2 == 0 ? 1e30f : -3e29f;
        var sbytes = new sbyte[32];
        var expected = new byte[34];
        fixed (float* px = x)
        fixed (sbyte* q = sbytes)
        fixed (byte* e = expected)
            for (int b = 0; b < 200; b++)
            {
                ushort d = FloatFormats.SingleToHalf(RowLanePack.Block(px + 32 * b, q, out int sum));
                ActivationQuantizer.Q8_0(px + 32 * b, (BlockQ8_0*)e);
                Assert.Equal(*(ushort*)e, d);
                int expectedSum = 0;
                for (int j = 0; j < 32; j++)
                {
                    Assert.True((sbyte)e[2 + j] == q[j], $"block {b} value {j}: {q[j]}, expected {(sbyte)e[2 + j]}.");
                    expectedSum += (sbyte)e[2 + j];
                }
                Assert.Equal(expectedSum, sum);
            }
    }

    /// <summary>The packer's Q8_K against <see cref="ActivationQuantizer.Q8_K"/> (quantize_row_q8_K_ref): the
    /// TestData edge blocks (zero, constant, outlier, one-signed), and ties of +max and −max in both orders.</summary>
    [Fact]
    public unsafe void PackerQuantizesQ8KAsLlamaCpp()
    {
        const int blocks = 12;
        var x = TestData.Normal(256 * blocks, 4);
        x[256 * 8 + 5] = -9f; x[256 * 8 + 70] = 9f;   // −max first
        x[256 * 9 + 3] = 9f; x[256 * 9 + 200] = -9f;  // +max first
        var q = new sbyte[256];
        var bsums = new short[16];
        fixed (float* px = x)
        fixed (sbyte* pq = q)
        fixed (short* pb = bsums)
            for (int b = 0; b < blocks; b++)
            {
                BlockQ8_K expected;
                ActivationQuantizer.Q8_K(px + 256 * b, &expected);
                float d = RowLanePack.BlockK(px + 256 * b, pq, pb);
                Assert.Equal(expected.D, d);
                for (int j = 0; j < 256; j++)
                    Assert.True(((sbyte*)&expected.Qs)[j] == q[j], $"block {b} value {j}: {q[j]}, expected {((sbyte*)&expected.Qs)[j]}.");
                for (int g = 0; g < 16; g++) Assert.Equal(((short*)&expected.BSums)[g], bsums[g]);
            }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void MatchesPlainOverRowTailsAndTokenCounts(GgmlType type)
    {
        using var pool = new WorkerPool(1);
        int bs = GgmlTypeInfo.BlockSize(type);
        for (int cols = bs; cols <= Math.Max(256, 2 * bs); cols += bs)
            for (int rows = 1; rows <= 17; rows++)
                for (int tokens = 1; tokens <= 20; tokens++)
                    Compare(type, rows, cols, tokens, pool);
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void MatchesPlainOverTilesAndLongRows(GgmlType type)
    {
        using var pool = new WorkerPool(2);
        int bs = GgmlTypeInfo.BlockSize(type);
        foreach (var (rows, cols, tokens) in new[]
        {
            (24, 896, 130), (17, 896, 129), (40, 4864, 20), (9, 4864, 128), (16, 256, 257), (33, 128, 6),
            (40, 4864, 8), (64, 896, 5), // a few tokens: the job's first parts quantize them (MatMul's PackParts)
        })
            Compare(type, rows, Math.Max(bs, cols / bs * bs), tokens, pool);
    }

    private static unsafe void Compare(GgmlType type, int rows, int cols, int tokens, WorkerPool pool)
    {
        var w = TestData.Normal(rows * cols, 7 * rows + cols, 0.1f, edgeBlocks: false);
        var x = TestData.Normal(tokens * cols, 11 * tokens + cols, edgeBlocks: cols >= 1024);
        using var m = NativeMatrix.Quantized(type, w, rows, cols);
        var fast = new float[tokens * rows];
        var plain = new float[tokens * rows];
        fixed (float* px = x, pf = fast, pp = plain)
        {
            MatMul.Run(type, m.Pointer, rows, cols, px, pf, tokens, pool, exact: false, plain: false);
            MatMul.Run(type, m.Pointer, rows, cols, px, pp, tokens, pool, exact: false, plain: true);
        }
        // The same integer block sums, scaled and added in block order by both: the difference is float rounding,
        // bounded by the sum of the magnitudes of the block terms, which |w|·|x| bounds.
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++)
            {
                double magnitude = 0;
                for (int c = 0; c < cols; c++) magnitude += Math.Abs(w[r * cols + c] * x[t * cols + c]);
                int i = t * rows + r;
                double tol = 1e-5 * (magnitude + 1e-3);
                Assert.True(Math.Abs(fast[i] - plain[i]) <= tol,
                    $"{type} rows {rows} cols {cols} tokens {tokens}: y[{t}, {r}] fast {fast[i]} plain {plain[i]}.");
            }
    }

    /// <summary>Q8_0 blocks holding the extreme quants −128 and 127 (a file may hold −128, though ggml's quantizer never
    /// writes it) against activations of ±127: the products that saturate vpmaddubsw's int16 pairs unless the weights'
    /// magnitudes are the unsigned operand, at every tier's kernel, equal to the twin.</summary>
    [Fact]
    public unsafe void Q8_0ExtremeQuantsMatchThePlainTwin()
    {
        const int rows = 16, cols = 64, tokens = 8;
        var rng = new Random(5);
        var bytes = new byte[rows * (cols / 32) * 34];
        for (int b = 0; b < bytes.Length / 34; b++)
        {
            *(ushort*)Unsafe.AsPointer(ref bytes[b * 34]) = BitConverter.HalfToUInt16Bits((Half)0.01f);
            for (int i = 0; i < 32; i++) bytes[b * 34 + 2 + i] = (byte)(sbyte)(rng.Next(3) switch { 0 => -128, 1 => 127, _ => rng.Next(-128, 128) });
        }
        var x = new float[tokens * cols];
        for (int i = 0; i < x.Length; i++) x[i] = rng.Next(2) == 0 ? 1f : -1f; // quantized to ±127 exactly
        using var m = new NativeMatrix(GgmlType.Q8_0, rows, cols, bytes);
        using var pool = new WorkerPool(1);
        var fast = new float[tokens * rows];
        var plain = new float[tokens * rows];
        fixed (float* px = x, pf = fast, pp = plain)
        {
            MatMul.Run(GgmlType.Q8_0, m.Pointer, rows, cols, px, pf, tokens, pool, exact: false, plain: false);
            MatMul.Run(GgmlType.Q8_0, m.Pointer, rows, cols, px, pp, tokens, pool, exact: false, plain: true);
        }
        for (int i = 0; i < fast.Length; i++)
            Assert.True(Math.Abs(fast[i] - plain[i]) <= 1e-5 * (1 + Math.Abs(plain[i])), $"output {i}: fast {fast[i]} plain {plain[i]}.");
    }
}
