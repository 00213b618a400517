using QwenSharp.Kernels;

namespace QwenSharp.Tests.Kernels;

/// <summary>The tier switch: QWENSHARP_KERNELS names a tier the CPU includes, or is refused with a warning naming it;
/// the flags the kernels read follow the tier in use.</summary>
public class KernelTierTests
{
    [Theory]
    [InlineData("avx2", KernelTier.Avx512Vnni, KernelTier.Avx2, false)]
    [InlineData("AVX-VNNI", KernelTier.Avx512Vnni, KernelTier.AvxVnni, false)]
    [InlineData("portable", KernelTier.Avx2, KernelTier.Portable, false)]
    [InlineData("portable", KernelTier.Arm64DotProd, KernelTier.Portable, false)]
    [InlineData("arm64-neon", KernelTier.Arm64DotProd, KernelTier.Arm64Neon, false)]
    [InlineData("", KernelTier.AvxVnni, KernelTier.AvxVnni, false)]
    [InlineData(null, KernelTier.Avx2, KernelTier.Avx2, false)]
    [InlineData("avx512-vnni", KernelTier.Avx2, KernelTier.Avx2, true)]     // higher than the CPU: refused
    [InlineData("arm64-neon", KernelTier.Avx512Vnni, KernelTier.Avx512Vnni, true)] // the other family: refused
    [InlineData("avx2", KernelTier.Arm64Neon, KernelTier.Arm64Neon, true)]
    [InlineData("sse9", KernelTier.Avx2, KernelTier.Avx2, true)]          // no such tier
    // AVX-512 and VEX VNNI are separate features: Ice Lake/Zen 4 (avx512) lack the VEX form, Alder Lake lacks AVX-512.
    [InlineData("avx512", KernelTier.Avx512Vnni, KernelTier.Avx512, false)]
    [InlineData("avx-vnni", KernelTier.Avx512Vnni, KernelTier.AvxVnni, false)]
    [InlineData("avx2", KernelTier.Avx512, KernelTier.Avx2, false)]
    [InlineData("avx-vnni", KernelTier.Avx512, KernelTier.Avx512, true)]
    [InlineData("avx512", KernelTier.AvxVnni, KernelTier.AvxVnni, true)]
    [InlineData("avx512-vnni", KernelTier.Avx512, KernelTier.Avx512, true)]
    public void A_requested_tier_is_followed_only_when_the_cpu_includes_it(string? requested, KernelTier best, KernelTier expected, bool warns)
    {
        Assert.Equal(expected, KernelTiers.Choose(requested, best, out var warning));
        Assert.Equal(warns, warning != null);
        if (warns) Assert.Contains(KernelTiers.Variable, warning);
    }

    [Fact]
    public void The_flags_follow_the_tier_in_use()
    {
        var tier = KernelTiers.Current;
        Assert.True(KernelTiers.Includes(KernelTiers.Best, tier));
        Assert.Equal(tier is KernelTier.Avx512 or KernelTier.Avx512Vnni, KernelTiers.Avx512);
        Assert.Equal(tier is KernelTier.AvxVnni or KernelTier.Avx512Vnni, KernelTiers.Vnni);
        Assert.Equal(tier >= KernelTier.Avx2, KernelTiers.X86);
        Assert.Equal(tier is KernelTier.Arm64Neon or KernelTier.Arm64DotProd, KernelTiers.Neon);
        Assert.Equal(tier == KernelTier.Arm64DotProd, KernelTiers.DotProd);
        Assert.Contains(KernelTiers.Name(tier), KernelTiers.Describe());
        // What the environment asked for is what runs (CI runs the kernel tests once per tier this way).
        string? requested = Environment.GetEnvironmentVariable(KernelTiers.Variable);
        if (!string.IsNullOrEmpty(requested) && KernelTiers.Warning == null)
            Assert.Equal(KernelTiers.Choose(requested, KernelTiers.Best, out _), tier);
    }
}
