using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Kernels;

/// <summary>Every fast matmul kernel against its plain twin, for every row length 0..256 the format allows
/// (all lengths for float formats, multiples of the block size for the quantized ones), single tokens (decode)
/// and batches (the tiled GEMM path, with partial tiles), tolerance scaling with the length.</summary>
public class FastKernelTwinTests
{
    public static TheoryData<GgmlType> Types => new()
    {
        GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_1,
        GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q5_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS,
    };

    [Theory]
    [MemberData(nameof(Types))]
    public unsafe void FastMatchesPlainForEveryTailLength(GgmlType type)
    {
        int bs = GgmlTypeInfo.BlockSize(type);
        // One worker: the row split is covered by WorkerPoolTests and the allocation test; here, the arithmetic.
        using var pool = new WorkerPool(1);
        foreach (int tokens in new[] { 1, 3, 21 })
        {
            for (int cols = 0; cols <= 256; cols += bs)
            {
                const int rows = 7;
                var w = TestData.Normal(rows * Math.Max(cols, 1), 30 + cols, 0.1f, edgeBlocks: false);
                var x = TestData.Normal(tokens * Math.Max(cols, 1), 31 + cols, edgeBlocks: false);
                using var m = cols == 0 ? new NativeMatrix(type, rows, 0, []) : NativeMatrix.Quantized(type, w, rows, cols);
                var fast = new float[tokens * rows];
                var plain = new float[tokens * rows];
                fixed (float* px = x, pf = fast, pp = plain)
                {
                    MatMul.Run(type, m.Pointer, rows, cols, px, pf, tokens, pool, exact: false, plain: false);
                    MatMul.Run(type, m.Pointer, rows, cols, px, pp, tokens, pool, exact: false, plain: true);
                }
                // Both sum the same products (integers per block for the quantized formats) in a different order.
                double scale = 0;
                for (int c = 0; c < cols; c++) scale = Math.Max(scale, Math.Abs(x[c]));
                double tol = 1e-6 * (cols + 1) * (1 + scale);
                for (int i = 0; i < fast.Length; i++)
                    Assert.True(Math.Abs(fast[i] - plain[i]) <= tol * (1 + Math.Abs(plain[i])),
                        $"{type} cols {cols} tokens {tokens} output {i}: fast {fast[i]} plain {plain[i]}.");
            }
        }
    }

    /// <summary>Decode's four-rows-at-a-time kernels (Q4_0, Q5_0, Q4_1, Q5_1, IQ4_NL always, Q8_0 from 2,048 columns) against the plain twin,
    /// with row counts that leave 0..3 rows to the one-row kernel.</summary>
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q5_0)]
    [InlineData(GgmlType.Q4_1)]
    [InlineData(GgmlType.Q5_1)]
    [InlineData(GgmlType.IQ4_NL)]
    public unsafe void FourRowDecodeMatchesPlainForLongRows(GgmlType type)
    {
        using var pool = new WorkerPool(1);
        foreach (int cols in new[] { 2048, 2080, 4896 })
        {
            for (int rows = 4; rows <= 7; rows++)
            {
                var w = TestData.Normal(rows * cols, 40 + rows, 0.1f, edgeBlocks: false);
                var x = TestData.Normal(cols, 41 + cols, edgeBlocks: false);
                using var m = NativeMatrix.Quantized(type, w, rows, cols);
                var fast = new float[rows];
                var plain = new float[rows];
                fixed (float* px = x, pf = fast, pp = plain)
                {
                    MatMul.Run(type, m.Pointer, rows, cols, px, pf, 1, pool, exact: false, plain: false);
                    MatMul.Run(type, m.Pointer, rows, cols, px, pp, 1, pool, exact: false, plain: true);
                }
                double scale = 0;
                for (int c = 0; c < cols; c++) scale = Math.Max(scale, Math.Abs(x[c]));
                double tol = 1e-6 * (cols + 1) * (1 + scale);
                for (int i = 0; i < rows; i++)
                    Assert.True(Math.Abs(fast[i] - plain[i]) <= tol * (1 + Math.Abs(plain[i])),
                        $"{type} cols {cols} rows {rows} output {i}: fast {fast[i]} plain {plain[i]}.");
            }
        }
    }

    [Fact]
    public unsafe void F16ConversionHandlesSubnormalsInfinityAndNaN()
    {
        // Row of specials through the F16 fast path against the scalar conversion.
        ushort[] bits = [0x0001, 0x03FF, 0x0400, 0x8001, 0x3C00, 0xBC00, 0x7BFF, 0xFBFF, 0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x1234, 0x5678, 0xC321];
        var row = new byte[bits.Length * 2];
        Buffer.BlockCopy(bits, 0, row, 0, row.Length);
        using var m = new NativeMatrix(GgmlType.F16, 1, bits.Length, row);
        var single = new float[bits.Length];
        fixed (float* s = single) FloatDotAccess.ToSingle(GgmlType.F16, m.Pointer, s, bits.Length);
        for (int i = 0; i < bits.Length; i++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf(bits[i]);
            Assert.True(expected.Equals(single[i]), $"fp16 0x{bits[i]:X4}: {single[i]} vs {expected}.");
        }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, 1)]
    [InlineData(GgmlType.Q4_K, 1)]
    [InlineData(GgmlType.F16, 1)]
    [InlineData(GgmlType.Q4_0, 40)]
    [InlineData(GgmlType.F16, 40)]
    public void MultiplyAllocatesNothingOnRepeatedCalls(GgmlType type, int tokens)
    {
        const int rows = 64, cols = 512;
        using var m = NativeMatrix.Quantized(type, TestData.Normal(rows * cols, 40, 0.05f, edgeBlocks: false), rows, cols);
        var x = TestData.Normal(tokens * cols, 41, edgeBlocks: false);
        var y = new float[tokens * rows];
        using var pool = new WorkerPool(2);
        MatMul.Multiply(m.View, x, y, tokens, pool); // warm-up: scratch buffers grow once
        MatMul.Multiply(m.View, x, y, tokens, pool);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) MatMul.Multiply(m.View, x, y, tokens, pool);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }
}
