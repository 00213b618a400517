using QwenSharp.Kernels;
using QwenSharp.Kernels.Arm64;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Kernels;

/// <summary>
/// The ARM64 kernels at the tier in use (.ci/arm64-tests.sh runs this class once per ARM64 tier under qemu): every
/// selection point hands them out, and each shape (one token, several tokens, 2 rows × 4 tokens) equals the plain twin
/// on random blocks and on blocks at the ends of each format's range (Q8_0 quants of −128 and 127, nibbles all 0 or all
/// 15, every fifth or sixth bit set, scales of −128 and 63, IQ4 grid levels −127 and 113) against activations of ±127, where the int16 sums of the
/// NEON-only path come closest to overflowing.
/// </summary>
public unsafe class Arm64KernelTests
{
    /// <summary>Every type `quantize` writes that has a matmul (issue 18).</summary>
    private static readonly GgmlType[] Quantized =
    [
        GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_1, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K,
        GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS,
    ];

    /// <summary>The 32-value formats, which also have the 2 rows × 4 tokens kernel.</summary>
    private static readonly GgmlType[] WithBlock = [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_1, GgmlType.Q5_1, GgmlType.IQ4_NL];

    public static TheoryData<GgmlType> Formats => new(Quantized);

    [Arm64Fact]
    public void Every_selection_point_takes_the_arm64_kernels_at_an_arm64_tier()
    {
        // Function pointers as addresses: ldftn of one method gives one stable entry point in CoreCLR.
        foreach (var type in Quantized)
        {
            Assert.True(Arm64Dot.SelectOne(type) != null && Arm64Dot.SelectMany(type) != null, $"{type}: no ARM64 kernel.");
            Assert.Equal((nint)(KernelTiers.Neon ? Arm64Dot.SelectOne(type) : null), (nint)DotFast.SelectOne(type));
            Assert.Equal((nint)(KernelTiers.Neon ? Arm64Dot.SelectMany(type) : null), (nint)DotFast.SelectMany(type));
            Assert.Equal((nint)(KernelTiers.Neon ? Arm64Dot.SelectBlock(type) : null), (nint)DotFast.SelectBlock(type));
            Assert.True(DotFast.SelectFour(type, 4096) == null, $"{type}: no four-row kernel on ARM64.");
        }
        foreach (var type in WithBlock) Assert.True(Arm64Dot.SelectBlock(type) != null, $"{type}: no 2 × 4 block kernel.");
        Assert.Equal(KernelTiers.Neon, HalfDot.Supported);
    }

    [Arm64Theory]
    [MemberData(nameof(Formats))]
    public void Each_shape_equals_the_plain_twin_on_random_and_extreme_blocks(GgmlType type)
    {
        const int rows = 2, tokens = DotFast.MaxTokens;
        int n = GgmlTypeInfo.BlockSize(type) == 256 ? 1024 : 512;
        var rng = new Random(17 + (int)type);
        var actType = ActivationQuantizer.VecDotType(type);
        long wRow = GgmlTypeInfo.RowBytes(type, n), aRow = GgmlTypeInfo.RowBytes(actType, n);
        var w = new byte[rows * wRow];
        var a = new byte[tokens * aRow];
        for (int r = 0; r < rows; r++) Arm64TestBlocks.Weights(type, w.AsSpan((int)(r * wRow), (int)wRow), rng);
        for (int t = 0; t < tokens; t++) Arm64TestBlocks.Activations(actType, a.AsSpan((int)(t * aRow), (int)aRow), rng);

        fixed (byte* pw = w, pa = a)
        {
            var plain = new float[rows, tokens];
            var magnitude = new double[rows, tokens];
            for (int r = 0; r < rows; r++)
                for (int t = 0; t < tokens; t++)
                {
                    plain[r, t] = DotPlain.Dot(type, pw + r * wRow, pa + t * aRow, n);
                    magnitude[r, t] = Arm64TestBlocks.Magnitude(type, pw + r * wRow, pa + t * aRow, n);
                }
            void Check(string shape, int r, int t, float got) =>
                Assert.True(Math.Abs(got - plain[r, t]) <= 1e-5 * (1 + magnitude[r, t]),
                    $"{type} {shape} row {r} token {t} ({KernelTiers.Name(KernelTiers.Current)}): {got} vs plain {plain[r, t]} (magnitude {magnitude[r, t]:G4}).");

            var one = Arm64Dot.SelectOne(type);
            for (int r = 0; r < rows; r++)
                for (int t = 0; t < tokens; t++) Check("one", r, t, one(pw + r * wRow, pa + t * aRow, n));

            var many = Arm64Dot.SelectMany(type);
            float* y = stackalloc float[tokens];
            for (int count = 1; count <= tokens; count++)
                for (int r = 0; r < rows; r++)
                {
                    many(pw + r * wRow, pa + (tokens - count) * aRow, aRow, n, count, y);
                    for (int t = 0; t < count; t++) Check($"many({count})", r, tokens - count + t, y[t]);
                }

            var block = Arm64Dot.SelectBlock(type);
            if (block == null) return;
            float* y8 = stackalloc float[8];
            for (int t0 = 0; t0 + 4 <= tokens; t0 += 4)
            {
                block(pw, pw + wRow, pa + t0 * aRow, aRow, n, y8);
                for (int r = 0; r < 2; r++)
                    for (int t = 0; t < 4; t++) Check("block", r, t0 + t, y8[4 * r + t]);
            }
        }
    }

    [Arm64Theory]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    public void Float_rows_equal_the_plain_twin_for_every_length(GgmlType type)
    {
        var rng = new Random(23);
        for (int n = 0; n <= 100; n++)
        {
            var a = new float[n];
            var bytes = new byte[n * GgmlTypeInfo.RowBytes(type, 1)];
            for (int i = 0; i < n; i++)
            {
                float v = (float)(rng.NextDouble() * 8 - 4);
                a[i] = FloatPanel.RoundScalar(type, (float)(rng.NextDouble() * 2 - 1));
                switch (type)
                {
                    case GgmlType.F32: BitConverter.TryWriteBytes(bytes.AsSpan(4 * i), v); break;
                    case GgmlType.F16: BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), BitConverter.HalfToUInt16Bits((Half)v)); break;
                    default: BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), FloatFormats.SingleToBFloat16(v)); break;
                }
            }
            fixed (byte* pw = bytes)
            fixed (float* pa = a)
            {
                float fast = Arm64FloatDot.One(type, pw, pa, n), plain = DotPlainFloat(type, pw, pa, n);
                double magnitude = 0;
                for (int i = 0; i < n; i++) magnitude += Math.Abs(a[i]) * 4;
                Assert.True(Math.Abs(fast - plain) <= 1e-6 * (n + 1) * (1 + magnitude), $"{type} n {n}: {fast} vs plain {plain}.");
            }
        }
    }

    private static float DotPlainFloat(GgmlType type, byte* w, float* a, int n)
    {
        double s = 0;
        for (int i = 0; i < n; i++)
            s += (type switch
            {
                GgmlType.F32 => ((float*)w)[i],
                GgmlType.F16 => FloatFormats.HalfTable[((ushort*)w)[i]],
                _ => FloatFormats.BFloat16ToSingle(((ushort*)w)[i]),
            }) * (double)a[i];
        return (float)s;
    }
}
