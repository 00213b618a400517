using System.Runtime.Intrinsics.Arm;

namespace QwenSharp.Tests.Kernels;

/// <summary>A [Fact] that runs only on ARM64 (Advanced SIMD): elsewhere it is reported skipped, not passed. On x86
/// these run under qemu-aarch64 through .ci/arm64-tests.sh.</summary>
public sealed class Arm64FactAttribute : FactAttribute
{
    public Arm64FactAttribute()
    {
        if (!AdvSimd.Arm64.IsSupported) Skip = Arm64Only.Reason;
    }
}

/// <summary>A [Theory] that runs only on ARM64 (see <see cref="Arm64FactAttribute"/>).</summary>
public sealed class Arm64TheoryAttribute : TheoryAttribute
{
    public Arm64TheoryAttribute()
    {
        if (!AdvSimd.Arm64.IsSupported) Skip = Arm64Only.Reason;
    }
}

internal static class Arm64Only
{
    public const string Reason = "ARM64 kernels: run by .ci/arm64-tests.sh under qemu-aarch64";
}
