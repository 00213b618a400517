using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Kernels;

public class MatMulTests
{
    public static TheoryData<GgmlType> WeightTypes => new()
    {
        GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1,
        GgmlType.Q8_0, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL,
        GgmlType.IQ4_XS,
    };

    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void ActivationFormatIsLlamaCppsVecDotType(GgmlType type) =>
        Assert.Equal(GgmlOracle.VecDotType(type), ActivationQuantizer.VecDotType(type));

    [Theory]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_1)]
    [InlineData(GgmlType.Q4_K)]
    public unsafe void ActivationsAreQuantizedByteForByteAsLlamaCppDoes(GgmlType weightType)
    {
        var x = TestData.Normal(4096, 5);
        var expected = GgmlOracle.ActivationRow(weightType, x);
        var actType = ActivationQuantizer.VecDotType(weightType);
        var actual = new byte[expected.Length];
        fixed (float* px = x)
        fixed (byte* pa = actual)
            ActivationQuantizer.Row(actType, px, pa, x.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i] == actual[i], $"{actType} activations: byte {i} is {actual[i]}, llama.cpp wrote {expected[i]}.");
    }

    /// <summary>Each row of W·x against llama.cpp's own vec_dot on the same weight bytes and activation bytes:
    /// only the order of float additions differs.</summary>
    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void MultiplyAgreesWithLlamaCppsVecDot(GgmlType type)
    {
        const int rows = 24, cols = 512, tokens = 3;
        var w = TestData.Normal(rows * cols, 6, 0.05f, edgeBlocks: false);
        var x = TestData.Normal(tokens * cols, 7, edgeBlocks: false);
        using var m = new NativeMatrix(type, rows, cols, GgmlQuantizedMatrix(type, w, rows, cols));
        var y = new float[tokens * rows];
        MatMul.Multiply(m.View, x, y, tokens);
        long rowBytes = GgmlTypeInfo.RowBytes(type, cols);
        var bytes = GgmlQuantizedMatrix(type, w, rows, cols);
        for (int t = 0; t < tokens; t++)
        {
            var a = GgmlOracle.ActivationRow(type, x.AsSpan(t * cols, cols).ToArray());
            for (int r = 0; r < rows; r++)
            {
                float expected = GgmlOracle.VecDot(type, bytes.AsSpan((int)(r * rowBytes), (int)rowBytes).ToArray(), a, cols);
                float got = y[t * rows + r];
                Assert.True(Math.Abs(got - expected) <= 2e-5 * (1 + Math.Abs(expected)),
                    $"{type} row {r} token {t}: {got} vs llama.cpp {expected}.");
            }
        }
    }

    private static byte[] GgmlQuantizedMatrix(GgmlType type, float[] w, int rows, int cols)
    {
        if (type == GgmlType.F32)
        {
            var f = new byte[w.Length * 4];
            Buffer.BlockCopy(w, 0, f, 0, f.Length);
            return f;
        }
        var all = new List<byte>();
        for (int r = 0; r < rows; r++) all.AddRange(GgmlOracle.QuantizeRef(type, w.AsSpan(r * cols, cols).ToArray()));
        return all.ToArray();
    }

    /// <summary>The exact path against a float64 sum over the dequantized weights.</summary>
    [Theory]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q8_0)]
    public unsafe void MultiplyExactMatchesFloat64(GgmlType type)
    {
        const int rows = 10, cols = 768, tokens = 2;
        var w = TestData.Normal(rows * cols, 8, 0.05f, edgeBlocks: false);
        var x = TestData.Normal(tokens * cols, 9, edgeBlocks: false);
        using var m = NativeMatrix.Quantized(type, w, rows, cols);
        var y = new float[tokens * rows];
        MatMul.MultiplyExact(m.View, x, y, tokens);
        var row = new float[cols];
        for (int r = 0; r < rows; r++)
        {
            Dequantize.Row(type, m.View.Row(r), row);
            for (int t = 0; t < tokens; t++)
            {
                double s = 0;
                for (int c = 0; c < cols; c++) s += row[c] * (double)x[t * cols + c];
                Assert.True(Math.Abs(y[t * rows + r] - s) <= 1e-5 * (1 + Math.Abs(s)), $"{type} [{t},{r}]: {y[t * rows + r]} vs {s}.");
            }
        }
    }

    [Fact]
    public void DefaultPathStaysCloseToTheExactOne()
    {
        // The activation rounding llama.cpp does costs about 1e-2 relative for 8-bit activations, 1e-3 for F16.
        const int rows = 64, cols = 1024;
        var w = TestData.Normal(rows * cols, 10, 0.03f, edgeBlocks: false);
        var x = TestData.Normal(cols, 11, edgeBlocks: false);
        foreach (var (type, bound) in new[] { (GgmlType.F16, 2e-3), (GgmlType.Q8_0, 2e-2), (GgmlType.Q4_K, 2e-2), (GgmlType.Q4_0, 2e-2) })
        {
            using var m = NativeMatrix.Quantized(type, w, rows, cols);
            var fast = new float[rows];
            var exact = new float[rows];
            MatMul.Multiply(m.View, x, fast, 1);
            MatMul.MultiplyExact(m.View, x, exact, 1);
            double err = 0, norm = 0;
            for (int r = 0; r < rows; r++) { err += Math.Pow(fast[r] - exact[r], 2); norm += exact[r] * (double)exact[r]; }
            Assert.True(Math.Sqrt(err / norm) < bound, $"{type}: relative error {Math.Sqrt(err / norm):E2} of the default path.");
        }
    }

    [Fact]
    public void LengthsAreValidatedWithAClearMessage()
    {
        using var m = NativeMatrix.Quantized(GgmlType.Q8_0, new float[4 * 64], 4, 64);
        var ex = Assert.Throws<ArgumentException>(() => MatMul.Multiply(m.View, new float[100], new float[8], 2));
        Assert.Contains("needs 128 inputs", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => MatMul.Multiply(m.View, new float[128], new float[7], 2));
        Assert.Contains("writes 8 outputs", ex.Message);
    }
}
