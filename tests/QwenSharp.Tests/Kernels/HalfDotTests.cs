using QwenSharp.Kernels;

namespace QwenSharp.Tests.Kernels;

/// <summary>The fused fp16 decode dot (conversion in registers) against .NET's own fp16 → fp32 conversion
/// ((float)(Half)) and against its plain twin.</summary>
public class HalfDotTests
{
    [Fact]
    public unsafe void ConvertsEveryFiniteHalfExactly()
    {
        // A one-hot activation picks one weight out of a 64-wide row (the vector loop), so the dot is that
        // weight's conversion: every finite pattern, subnormals and negatives included.
        const int width = 64;
        var row = new ushort[width];
        var a = new float[width];
        int checkedCount = 0;
        fixed (ushort* pw = row)
        fixed (float* pa = a)
        {
            for (int start = 0; start < 65536; start += width)
            {
                for (int i = 0; i < width; i++) row[i] = IsFinite(start + i) ? (ushort)(start + i) : (ushort)0;
                for (int p = 0; p < width; p++)
                {
                    if (!IsFinite(start + p)) continue;
                    a[p] = 1;
                    float expected = (float)BitConverter.UInt16BitsToHalf(row[p]);
                    float got = HalfDot.Dot(pw, pa, width);
                    Assert.True(expected == got, $"fp16 0x{row[p]:X4}: {got} vs {expected}.");
                    a[p] = 0;
                    checkedCount++;
                }
            }
        }
        Assert.Equal(63488, checkedCount);
    }

    [Fact]
    public unsafe void MatchesPlainTwinForEveryTailLength()
    {
        var rng = new Random(5);
        for (int n = 0; n <= 256; n++)
        {
            // Random bit patterns: every exponent but 31 (subnormals and both signs), and one with a small exponent range.
            var w = new ushort[n];
            var a = new float[n];
            for (int i = 0; i < n; i++)
            {
                int bits = rng.Next(65536);
                if (((bits >> 10) & 31) == 31) bits &= 0x83FF; // exponent 31 → subnormal
                w[i] = (ushort)(i % 3 == 0 ? bits : (bits & 0x83FF) | 0x3800); // a third any finite, the rest near 1
                a[i] = (float)(Half)(float)(rng.NextDouble() * 4 - 2);
            }
            fixed (ushort* pw = w)
            fixed (float* pa = a)
            {
                float fast = HalfDot.Dot(pw, pa, n), plain = HalfDot.Plain(pw, pa, n);
                double exact = 0, magnitude = 0;
                for (int i = 0; i < n; i++)
                {
                    double p = (double)(float)BitConverter.UInt16BitsToHalf(w[i]) * a[i];
                    exact += p;
                    magnitude += Math.Abs(p);
                }
                // Both are f32 sums of the same exact products in a different order.
                double tol = 1e-6 * (n + 1) * (1 + magnitude);
                Assert.True(Math.Abs(fast - exact) <= tol, $"n {n}: fast {fast} vs exact {exact}.");
                Assert.True(Math.Abs(plain - exact) <= tol, $"n {n}: plain {plain} vs exact {exact}.");
            }
        }
    }

    [Theory]
    [InlineData((ushort)0x7C00, 5)]   // +inf in the vector part
    [InlineData((ushort)0xFC00, 20)]  // −inf in the second vector
    [InlineData((ushort)0x7E00, 33)]  // NaN
    [InlineData((ushort)0x7C00, 70)]  // +inf in the scalar tail
    public unsafe void InfinityAndNaNGiveThePlainResult(ushort special, int position)
    {
        const int n = 72;
        var w = new ushort[n];
        var a = new float[n];
        for (int i = 0; i < n; i++)
        {
            w[i] = 0x3C00; // 1.0
            a[i] = 0.5f;
        }
        w[position] = special;
        fixed (ushort* pw = w)
        fixed (float* pa = a)
        {
            float fast = HalfDot.Dot(pw, pa, n), plain = HalfDot.Plain(pw, pa, n);
            Assert.True(fast.Equals(plain), $"0x{special:X4} at {position}: fast {fast} plain {plain}.");
            Assert.False(float.IsFinite(fast));
        }
    }

    private static bool IsFinite(int bits) => ((bits >> 10) & 31) != 31;
}

/// <summary>Activations rounded to fp16 for F16 weights (vectorized) against the scalar (Half) cast.</summary>
public class RoundActivationsTests
{
    [Fact]
    public unsafe void F16RoundingMatchesTheHalfCastForEveryLength()
    {
        var rng = new Random(9);
        for (int n = 0; n <= 300; n += n < 40 ? 1 : 37)
        {
            var x = new float[n];
            for (int i = 0; i < n; i++)
                x[i] = (i % 5) switch
                {
                    0 => (float)(rng.NextDouble() * 2 - 1),
                    1 => (float)((rng.NextDouble() * 2 - 1) * 1e-6), // fp16 subnormals
                    2 => (float)((rng.NextDouble() * 2 - 1) * 1e5),  // beyond 65504: infinity
                    3 => BitConverter.Int32BitsToSingle(rng.Next()) * (rng.Next(2) == 0 ? 1 : -1),
                    _ => i % 10 == 4 ? float.NaN : 65519.99f,
                };
            var got = new float[n];
            fixed (float* px = x, pg = got) FloatDot.RoundActivations(QwenSharp.Tensors.GgmlType.F16, px, pg, n);
            for (int i = 0; i < n; i++)
            {
                float expected = (float)(Half)x[i];
                Assert.True(expected.Equals(got[i]), $"n {n} x {x[i]:R}: {got[i]:R} vs {expected:R}.");
            }
        }
    }
}
