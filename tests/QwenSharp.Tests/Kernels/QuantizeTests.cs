using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Kernels;

public class QuantizeTests
{
    public static TheoryData<GgmlType> QuantizableTypes => new()
    {
        GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS,
    };

    public static TheoryData<GgmlType> DequantizableTypes => new()
    {
        GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS,
    };

    [Theory]
    [MemberData(nameof(QuantizableTypes))]
    public void QuantizeMatchesGgmlsReferenceByteForByte(GgmlType type)
    {
        foreach (int seed in new[] { 1, 2 })
        {
            var x = TestData.Normal(4096, seed, scale: seed == 1 ? 1f : 0.02f);
            // The block types as llama-quantize converts them (ggml_quantize_chunk, no importance matrix).
            var expected = type is GgmlType.F16 or GgmlType.BF16 ? GgmlOracle.QuantizeRef(type, x) : GgmlOracle.QuantizeChunk(type, x, 4);
            var actual = new byte[expected.Length];
            Quantize.Row(type, x, actual);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(expected[i] == actual[i], $"{type} seed {seed}: byte {i} (block {i / GgmlTypeInfo.BlockBytes(type)}) is {actual[i]}, ggml wrote {expected[i]}.");
        }
    }

    [Theory]
    [MemberData(nameof(DequantizableTypes))]
    public unsafe void DequantizeMatchesGgmlExactly(GgmlType type)
    {
        var x = TestData.Normal(4096, 3);
        var bytes = GgmlOracle.QuantizeRef(type, x);
        var expected = GgmlOracle.Dequantize(type, bytes, x.Length);
        var actual = new float[x.Length];
        fixed (byte* p = bytes) Dequantize.Row(type, p, actual);
        for (int i = 0; i < x.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{type}: value {i} is {actual[i]}, ggml gives {expected[i]}.");
    }

    [Theory]
    [InlineData(GgmlType.F16, 5e-4)]
    [InlineData(GgmlType.BF16, 4e-3)]
    [InlineData(GgmlType.Q8_0, 8e-3)]
    [InlineData(GgmlType.Q6_K, 2.5e-2)]
    [InlineData(GgmlType.Q5_1, 4e-2)]
    [InlineData(GgmlType.Q5_0, 5e-2)]
    [InlineData(GgmlType.Q5_K, 4e-2)]
    [InlineData(GgmlType.Q4_1, 8e-2)]
    [InlineData(GgmlType.Q4_K, 8e-2)]
    [InlineData(GgmlType.Q4_0, 1e-1)]
    [InlineData(GgmlType.IQ4_NL, 8e-2)]
    [InlineData(GgmlType.IQ4_XS, 8e-2)]
    [InlineData(GgmlType.Q3_K, 1.6e-1)]
    [InlineData(GgmlType.Q2_K, 3.5e-1)]
    public unsafe void RoundTripErrorIsWithinTheFormatsResolution(GgmlType type, double maxRelativeRms)
    {
        var x = TestData.Normal(8192, 4, edgeBlocks: false);
        var bytes = new byte[GgmlTypeInfo.RowBytes(type, x.Length)];
        Quantize.Row(type, x, bytes);
        var back = new float[x.Length];
        fixed (byte* p = bytes) Dequantize.Row(type, p, back);
        double err = 0, norm = 0;
        for (int i = 0; i < x.Length; i++) { err += (x[i] - back[i]) * (double)(x[i] - back[i]); norm += x[i] * (double)x[i]; }
        double rel = Math.Sqrt(err / norm);
        Assert.True(rel < maxRelativeRms, $"{type} round trip: relative RMS error {rel:E3} ≥ {maxRelativeRms:E1}.");
        Assert.True(rel > 0 || type == GgmlType.F32, $"{type} round trip lost nothing at all, which a lossy format cannot do.");
    }

    [Fact]
    public unsafe void Q4_0HandBuiltBlock()
    {
        // Values −8..7 (twice): amax 8 at value −8, so d = −8/−8 = 1 and nibble = value + 8.
        var x = new float[32];
        for (int j = 0; j < 32; j++) x[j] = j % 16 - 8;
        var bytes = new byte[18];
        Quantize.Row(GgmlType.Q4_0, x, bytes);
        Assert.Equal(0x00, bytes[0]); // fp16 1.0 = 0x3C00, little endian
        Assert.Equal(0x3C, bytes[1]);
        for (int j = 0; j < 16; j++) Assert.Equal(j | (j << 4), bytes[2 + j]);
        var back = new float[32];
        fixed (byte* p = bytes) Dequantize.Row(GgmlType.Q4_0, p, back);
        Assert.Equal(x, back);
    }

    [Fact]
    public unsafe void Q4_KHandBuiltBlock()
    {
        // d = 1, dmin = 0.5; sub-block 0: scale 1, min 0; sub-block 1: scale 2, min 1 (scales[j], scales[j+4] for j < 4).
        var block = new byte[144];
        block[0] = 0x00; block[1] = 0x3C;  // d = 1
        block[2] = 0x00; block[3] = 0x38;  // dmin = 0.5
        block[4 + 0] = 1; block[4 + 4] = 0;
        block[4 + 1] = 2; block[4 + 5] = 1;
        for (int l = 0; l < 32; l++) block[16 + l] = 0x53; // low nibble 3 → sub-block 0, high nibble 5 → sub-block 1
        var y = new float[256];
        fixed (byte* p = block) Dequantize.Row(GgmlType.Q4_K, p, y);
        for (int l = 0; l < 32; l++)
        {
            Assert.Equal(3f, y[l]);            // 1·1·3 − 0.5·0
            Assert.Equal(9.5f, y[32 + l]);     // 1·2·5 − 0.5·1
        }
    }

    /// <summary>The IQ4 quantizers' eight-at-a-time nearest-level search against best_index_int8's bisection
    /// (<see cref="Quantize.BestIq4Index"/>): the grid's levels, the midpoints between them and one ulp either side,
    /// values beyond both ends, zeros, infinities, NaN and random values.</summary>
    [Fact]
    public unsafe void Iq4LevelSearchMatchesTheBisection()
    {
        var grid = Iq4NlGrid.Values;
        var values = new List<float> { 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, -1000f, 1000f, -127.5f, 113.5f };
        for (int k = 0; k < 16; k++)
        {
            values.Add(grid[k]);
            if (k == 15) continue;
            float mid = (grid[k] + grid[k + 1]) / 2f;
            values.AddRange([mid, MathF.BitDecrement(mid), MathF.BitIncrement(mid)]);
        }
        var rng = new Random(9);
        while (values.Count % 32 != 0 || values.Count < 4096) values.Add((float)(rng.NextDouble() * 300 - 150));
        var x = values.ToArray();
        byte* L = stackalloc byte[32];
        float* q = stackalloc float[32];
        foreach (float id in new[] { 1f, 0.37f, -2.5f })
        {
            fixed (float* px = x)
            {
                for (int g = 0; g < x.Length; g += 32)
                {
                    Quantize.Iq4Levels(px + g, id, L, q);
                    for (int j = 0; j < 32; j++)
                    {
                        int expected = Quantize.BestIq4Index(id * x[g + j]);
                        Assert.True(expected == L[j], $"id {id}, x {x[g + j]}: level {L[j]}, the bisection gives {expected}.");
                        Assert.Equal((float)grid[expected], q[j]);
                    }
                }
            }
        }
    }

    [Fact]
    public void Fp16AndBf16RoundToNearestEven()
    {
        // 1 + 2^-11 lies halfway between fp16 1.0 and 1 + 2^-10: ties to even (1.0); 1 + 3·2^-11 ties up to 1 + 2^-9.
        Assert.Equal(0x3C00, FloatFormats.SingleToHalf(1f + MathF.Pow(2, -11)));
        Assert.Equal(0x3C02, FloatFormats.SingleToHalf(1f + 3 * MathF.Pow(2, -11)));
        // bf16 keeps 7 mantissa bits: 1 + 2^-8 ties to 1.0, 1 + 3·2^-8 rounds up to 1 + 2^-6.
        Assert.Equal(0x3F80, FloatFormats.SingleToBFloat16(1f + MathF.Pow(2, -8)));
        Assert.Equal(0x3F82, FloatFormats.SingleToBFloat16(1f + 3 * MathF.Pow(2, -8)));
        // A NaN stays a quiet NaN (ggml sets bit 6 of the result).
        ushort nan = FloatFormats.SingleToBFloat16(BitConverter.UInt32BitsToSingle(0x7F800001));
        Assert.Equal(0x7FC0, nan);
    }

    [Theory]
    [InlineData(GgmlType.Q4_0, 31)]
    [InlineData(GgmlType.Q4_K, 100)]
    public void RefusesRowsThatAreNotWholeBlocks(GgmlType type, int n)
    {
        var ex = Assert.Throws<ArgumentException>(() => Quantize.Row(type, new float[n], new byte[1000]));
        Assert.Contains(n.ToString(), ex.Message);
    }
}
