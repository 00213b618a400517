using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace QwenSharp.Kernels;

/// <summary>
/// The kernel sets, from the plain twins up. The ARM64 tiers stack. The x86 tiers add two features to AVX2, 512-bit
/// vectors and 256-bit VEX vpdpbusd, which CPUs have apart (Ice Lake and Zen 4 servers: AVX-512 without the VEX form;
/// Alder Lake: the VEX form without AVX-512) or together; a CPU runs every x86 tier whose features it has. The two
/// families share only <see cref="Portable"/>.
/// </summary>
public enum KernelTier
{
    /// <summary>The plain twins and .NET's portable vectors only: the reference every fast kernel is tested against.</summary>
    Portable = 0,
    /// <summary>ARM64 Advanced SIMD (NEON): every ARMv8 CPU.</summary>
    Arm64Neon = 1,
    /// <summary>ARM64 with the dot-product instructions (sdot/udot, ARMv8.2+): Apple M1 and later, Graviton 2 and later.</summary>
    Arm64DotProd = 2,
    /// <summary>x86-64-v3: AVX2, FMA, F16C-class conversions by bits (Haswell and later, Zen 1 and later).</summary>
    Avx2 = 10,
    /// <summary>AVX2 plus 256-bit VEX vpdpbusd (Intel Alder Lake and later, AMD Zen 5 client).</summary>
    AvxVnni = 11,
    /// <summary>AVX2 plus AVX-512 F/BW/VL, integer products by vpmaddubsw + vpmaddwd (Skylake-SP, Cascade Lake and
    /// Ice Lake Xeons, Zen 4): .NET 10 emits vpdpbusd only through <c>AvxVnni</c> (the VEX form these CPUs lack) or
    /// AVX10, so their EVEX VNNI stays unused, as in LLamaSharp's avx512 build of llama.cpp.</summary>
    Avx512 = 12,
    /// <summary>AVX-512 F/BW/VL and VEX vpdpbusd (Sapphire Rapids and later Xeons, Zen 5).</summary>
    Avx512Vnni = 13,
}

/// <summary>
/// Picks the kernel tier once, at start-up: the best the CPU offers as .NET reports it (so .NET's own
/// <c>DOTNET_EnableAVX512F=0</c>, <c>DOTNET_EnableAVXVNNI=0</c>, <c>DOTNET_EnableAVX2=0</c> knobs lower it too), or a
/// lower one named by <c>QWENSHARP_KERNELS</c> (avx512-vnni, avx512, avx-vnni, avx2, arm64-dotprod, arm64-neon, portable) for
/// tests and benchmarks. Every kernel selection reads the flags below rather than the CPU, so one switch moves them
/// all; the flags are constant for the process, which lets the JIT drop the branches not taken.
/// </summary>
public static class KernelTiers
{
    public const string Variable = "QWENSHARP_KERNELS";

    /// <summary>The best tier this CPU and runtime support.</summary>
    public static KernelTier Best { get; } = Detect();

    /// <summary>The tier in use: <see cref="Best"/>, or the lower one <c>QWENSHARP_KERNELS</c> names.</summary>
    public static KernelTier Current { get; } = Choose(Environment.GetEnvironmentVariable(Variable), Best, out _);

    /// <summary>Why <c>QWENSHARP_KERNELS</c> was not followed (unknown name, or a tier this CPU lacks), or null.</summary>
    public static string? Warning { get; } = ChooseWarning();

    /// <summary>AVX-512 (F, BW, VL) kernels: 512-bit float GEMM, attention and conversions.</summary>
    public static readonly bool Avx512 = HasWide(Current) && Avx512F.IsSupported && Avx512BW.IsSupported;
    /// <summary>vpdpbusd at 256 bits (AvxVnni) in the integer kernels.</summary>
    public static readonly bool Vnni = HasVnni(Current) && AvxVnni.IsSupported;
    /// <summary>AVX2 + FMA kernels (the x86 baseline of the fast paths).</summary>
    public static readonly bool X86 = Current >= KernelTier.Avx2 && Avx2.IsSupported && Fma.IsSupported;
    /// <summary>ARM64 Advanced SIMD kernels.</summary>
    public static readonly bool Neon = (Current is KernelTier.Arm64Neon or KernelTier.Arm64DotProd) && AdvSimd.Arm64.IsSupported;
    /// <summary>ARM64 sdot/udot in the integer kernels.</summary>
    public static readonly bool DotProd = Current == KernelTier.Arm64DotProd && Dp.IsSupported;
    /// <summary>.NET's portable Vector512 paths (attention tiles, SwiGLU): hardware-accelerated and allowed by the tier.</summary>
    public static readonly bool Wide = Avx512 && Vector512.IsHardwareAccelerated;

    /// <summary>The tier's name as <c>QWENSHARP_KERNELS</c> spells it.</summary>
    public static string Name(KernelTier tier) => tier switch
    {
        KernelTier.Avx512Vnni => "avx512-vnni",
        KernelTier.Avx512 => "avx512",
        KernelTier.AvxVnni => "avx-vnni",
        KernelTier.Avx2 => "avx2",
        KernelTier.Arm64DotProd => "arm64-dotprod",
        KernelTier.Arm64Neon => "arm64-neon",
        _ => "portable",
    };

    /// <summary>One line for start-up banners, as llama.cpp prints its system info.</summary>
    public static string Describe() =>
        $"kernels: {Name(Current)}" + (Current != Best ? $" (forced by {Variable}; this CPU supports {Name(Best)})" : "")
        + (Warning != null ? $"; {Warning}" : "");

    private static KernelTier Detect()
    {
        if (Avx2.IsSupported && Fma.IsSupported)
        {
            bool wide = Avx512F.IsSupported && Avx512BW.IsSupported && Avx512F.VL.IsSupported;
            if (wide) return AvxVnni.IsSupported ? KernelTier.Avx512Vnni : KernelTier.Avx512;
            return AvxVnni.IsSupported ? KernelTier.AvxVnni : KernelTier.Avx2;
        }
        if (AdvSimd.Arm64.IsSupported) return Dp.IsSupported ? KernelTier.Arm64DotProd : KernelTier.Arm64Neon;
        return KernelTier.Portable;
    }

    /// <summary>The tier <paramref name="requested"/> names when <paramref name="best"/> includes it; otherwise
    /// <paramref name="best"/> and the reason in <paramref name="warning"/>.</summary>
    public static KernelTier Choose(string? requested, KernelTier best, out string? warning)
    {
        warning = null;
        if (string.IsNullOrWhiteSpace(requested)) return best;
        KernelTier? tier = requested.Trim().ToLowerInvariant() switch
        {
            "avx512-vnni" => KernelTier.Avx512Vnni,
            "avx512" => KernelTier.Avx512,
            "avx-vnni" or "avxvnni" => KernelTier.AvxVnni,
            "avx2" => KernelTier.Avx2,
            "arm64-dotprod" => KernelTier.Arm64DotProd,
            "arm64-neon" or "neon" => KernelTier.Arm64Neon,
            "portable" or "plain" => KernelTier.Portable,
            _ => null,
        };
        if (tier is not { } t)
        {
            warning = $"{Variable}='{requested}' names no tier (avx512-vnni, avx512, avx-vnni, avx2, arm64-dotprod, arm64-neon, portable); using {Name(best)}";
            return best;
        }
        if (!Includes(best, t))
        {
            warning = $"{Variable}={Name(t)} is not supported by this CPU; using {Name(best)}";
            return best;
        }
        return t;
    }

    /// <summary>Whether a CPU at tier <paramref name="best"/> can run tier <paramref name="tier"/>'s kernels.</summary>
    public static bool Includes(KernelTier best, KernelTier tier)
    {
        if (tier == KernelTier.Portable) return true;
        bool x86 = tier >= KernelTier.Avx2;
        if (x86 != best >= KernelTier.Avx2) return false;
        if (!x86) return tier <= best;
        return (!HasWide(tier) || HasWide(best)) && (!HasVnni(tier) || HasVnni(best));
    }

    private static bool HasWide(KernelTier tier) => tier is KernelTier.Avx512 or KernelTier.Avx512Vnni;
    private static bool HasVnni(KernelTier tier) => tier is KernelTier.AvxVnni or KernelTier.Avx512Vnni;

    private static string? ChooseWarning()
    {
        Choose(Environment.GetEnvironmentVariable(Variable), Best, out var warning);
        return warning;
    }
}
