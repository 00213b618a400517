using QwenSharp.Kernels;

namespace QwenSharp.Tests.Kernels;

public class ElementwiseTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(896)]
    [InlineData(3584)]
    public void RmsNormMatchesTheFormulaInFloat64(int n)
    {
        var x = TestData.Normal(n, 20, edgeBlocks: false);
        var w = TestData.Normal(n, 21, edgeBlocks: false);
        var dst = new float[n];
        const float eps = 1e-6f;
        RmsNorm.Apply(x, w, eps, dst);
        double ms = 0;
        foreach (float v in x) ms += v * (double)v;
        double inv = 1 / Math.Sqrt(ms / n + eps);
        for (int i = 0; i < n; i++)
            Assert.True(Math.Abs(dst[i] - x[i] * inv * w[i]) <= 1e-5 * (1 + Math.Abs(x[i] * inv * w[i])), $"RMSNorm value {i}.");
    }

    [Fact]
    public void RmsNormOfZerosIsZeroAndEpsKeepsItFinite()
    {
        var dst = new float[4];
        RmsNorm.Apply(new float[4], new float[] { 1, 1, 1, 1 }, 1e-6f, dst);
        Assert.All(dst, v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(33)]
    [InlineData(4864)]
    public void SwiGluIsSiluOfGateTimesUp(int n)
    {
        var g = TestData.Normal(n, 22, 4f, edgeBlocks: false);
        if (n >= 16) (g[3], g[7], g[11]) = (-120f, 120f, 0f); // e^-g overflows to infinity, underflows to 0; silu(0) = 0
        var u = TestData.Normal(n, 23, edgeBlocks: false);
        var dst = new float[n];
        SwiGlu.Apply(g, u, dst);
        for (int i = 0; i < n; i++)
        {
            double expected = g[i] / (1 + Math.Exp(-g[i])) * u[i];
            Assert.True(Math.Abs(dst[i] - expected) <= 1e-5 * (1 + Math.Abs(expected)), $"SwiGLU value {i}: {dst[i]} vs {expected}.");
        }
    }

    [Fact]
    public void SoftmaxOfLargeLogitsIsFiniteAndSumsToOne()
    {
        var v = new float[] { 1000f, 999f, 998f, -1e30f, float.NegativeInfinity };
        Softmax.InPlace(v);
        double z = 1 + Math.Exp(-1) + Math.Exp(-2);
        Assert.Equal(1 / z, v[0], 6);
        Assert.Equal(Math.Exp(-1) / z, v[1], 6);
        Assert.Equal(Math.Exp(-2) / z, v[2], 6);
        Assert.Equal(0f, v[3]);
        Assert.Equal(0f, v[4]);
    }

    [Fact]
    public void SoftmaxMatchesFloat64OverManyLengths()
    {
        for (int n = 1; n <= 300; n += 13)
        {
            var v = TestData.Normal(n, 24 + n, 3f, edgeBlocks: false);
            double max = v.Max();
            double z = v.Sum(a => Math.Exp(a - max));
            var expected = v.Select(a => Math.Exp(a - max) / z).ToArray();
            Softmax.InPlace(v);
            for (int i = 0; i < n; i++) Assert.True(Math.Abs(v[i] - expected[i]) < 1e-6, $"softmax n={n} i={i}");
        }
    }

    [Fact]
    public void MismatchedLengthsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => RmsNorm.Apply(new float[4], new float[3], 1e-6f, new float[4]));
        Assert.Throws<ArgumentException>(() => SwiGlu.Apply(new float[4], new float[4], new float[3]));
    }
}
