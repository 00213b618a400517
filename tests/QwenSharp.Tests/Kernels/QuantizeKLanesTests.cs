using System.Runtime.Intrinsics;
using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Kernels;

/// <summary>The K-quant scale searches with eight sub-blocks per vector (QuantizeKLanes.cs) against their plain twins,
/// byte for byte, at whatever tier the process runs (the lane kernels are .NET's portable Vector256, so they run and
/// are compared at every tier where Vector256 is accelerated, including the portable one).</summary>
public class QuantizeKLanesTests
{
    public static TheoryData<GgmlType> KTypes => new() { GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K };

    [Theory]
    [MemberData(nameof(KTypes))]
    public void LaneSearchWritesThePlainTwinsBytes(GgmlType type)
    {
        if (!Vector256.IsHardwareAccelerated) return; // (ARM64: Vector256 is emulated; Row runs the plain twins there)
        var rng = new Random(18);
        int blocks = 0;
        for (int row = 0; row < 400; row++)
        {
            var x = HardRow(rng, row, 256 * 4);
            var plain = new byte[GgmlTypeInfo.RowBytes(type, x.Length)];
            var lanes = new byte[plain.Length];
            Quantize.Row(type, x, plain, lanes: false);
            Quantize.Row(type, x, lanes, lanes: true);
            int bb = GgmlTypeInfo.BlockBytes(type);
            for (int i = 0; i < plain.Length; i++)
                Assert.True(plain[i] == lanes[i], $"{type} row {row} (kind {row % Kinds}): byte {i} (block {i / bb}) is {lanes[i]}, the plain twin wrote {plain[i]}.");
            blocks += x.Length / 256;
        }
        Assert.Equal(1600, blocks);
    }

    [Theory]
    [MemberData(nameof(KTypes))]
    public void RowUsesTheLaneSearchWhereTheTierAllowsIt(GgmlType type)
    {
        // Row(type, x, dst) must give the same bytes as both explicit paths on ggml-shaped data.
        var x = TestData.Normal(4096, 7);
        var plain = new byte[GgmlTypeInfo.RowBytes(type, x.Length)];
        var chosen = new byte[plain.Length];
        Quantize.Row(type, x, plain, lanes: false);
        Quantize.Row(type, x, chosen);
        Assert.Equal(plain, chosen);
        Assert.Equal(KernelTiers.X86 && Vector256.IsHardwareAccelerated, Quantize.KLanes);
    }

    private const int Kinds = 12;

    /// <summary>A row whose sub-blocks stress the search: each 16-value group gets one of several kinds, chosen per
    /// group so that lanes of one vector disagree (flat lanes beside searching ones, winners at different candidates).</summary>
    private static float[] HardRow(Random rng, int row, int n)
    {
        var x = new float[n];
        int kind = row % Kinds;
        for (int g = 0; g < n; g += 16)
        {
            int k = kind == 0 ? rng.Next(Kinds - 1) + 1 : kind;
            float scale = (float)Math.Pow(10, rng.Next(-6, 3));
            for (int i = g; i < g + 16; i++)
            {
                float normal = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
                x[i] = k switch
                {
                    1 => 0f,                                              // zeros
                    2 => normal * 1e-20f,                                 // tiny (below ggml's 1e-15 group eps once squared)
                    3 => 0.37f * scale,                                   // identical, positive
                    4 => -0.37f * scale,                                  // identical, negative
                    5 => -MathF.Abs(normal) * scale,                      // negative only
                    6 => MathF.Abs(normal) * scale + 0.1f * scale,        // positive only
                    7 => rng.Next(-8, 8) * scale,                         // on an integer grid: candidates tie
                    8 => rng.Next(0, 16) * 0.5f,                          // a 4-bit grid with min 0: exact fits tie
                    9 => i % 16 == 3 ? 40f * scale : normal * scale,      // one outlier
                    10 => BitConverter.Int32BitsToSingle(rng.Next(1, 1 << 20)) * (rng.Next(2) * 2 - 1), // subnormals
                    _ => normal * scale,
                };
            }
        }
        return x;
    }
}
