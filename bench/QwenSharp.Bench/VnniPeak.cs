using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QwenSharp.Bench;

/// <summary>
/// What one core can do with the instructions the int8 GEMM is made of, so that a kernel's GFLOP/s can be read as a
/// share of a bound: 256-bit vpdpbusd alone (ten independent chains: throughput, not latency), FMA alone, and eight
/// vpdpbusd with the row-lane GEMM's per-token float work (convert, multiply, FMA) in one loop, which tells whether
/// they share execution ports. .NET 10 has no 512-bit vpdpbusd on this CPU (AvxVnni only; Avx10 is not supported).
/// </summary>
public sealed class VnniPeak : IBenchmark
{
    public string Name => "peak";
    public string Summary => "One core's vpdpbusd (ymm) and FMA throughput, alone and mixed as in the row-lane GEMM.";

    public int Run(string[] args)
    {
        if (!AvxVnni.IsSupported || !Fma.IsSupported)
        {
            Console.Error.WriteLine("This CPU has no AVX-VNNI.");
            return 1;
        }
        const long n = 50_000_000;
        var w = Vector256.Create((byte)1);
        var a = Vector256.Create((sbyte)1);
        var f = Vector256.Create(0.5f);
        Dots(n / 50, w, a); Fmas(n / 50, f); Mixed(n / 50, w, a, f);
        for (int round = 0; round < 3; round++)
        {
            var clock = Stopwatch.StartNew();
            Dots(n, w, a);
            double dots = n * 10 / clock.Elapsed.TotalSeconds;
            clock.Restart();
            Fmas(n, f);
            double fmas = n * 10 / clock.Elapsed.TotalSeconds;
            clock.Restart();
            Mixed(n, w, a, f);
            double mixed = n * 8 / clock.Elapsed.TotalSeconds;
            Console.WriteLine($"vpdpbusd ymm {dots / 1e9:F2} G/s ({dots * 64 / 1e9:F0} int8 GOPS), vfmadd ymm {fmas / 1e9:F2} G/s, " +
                $"mixed {mixed / 1e9:F2} G vpdpbusd/s with cvt + mul + 2 FMA per 8");
        }
        return 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Vector256<int> Dots(long n, Vector256<byte> w, Vector256<sbyte> a)
    {
        Vector256<int> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default;
        Vector256<int> c5 = default, c6 = default, c7 = default, c8 = default, c9 = default;
        for (long i = 0; i < n; i++)
        {
            c0 = AvxVnni.MultiplyWideningAndAdd(c0, w, a); c1 = AvxVnni.MultiplyWideningAndAdd(c1, w, a);
            c2 = AvxVnni.MultiplyWideningAndAdd(c2, w, a); c3 = AvxVnni.MultiplyWideningAndAdd(c3, w, a);
            c4 = AvxVnni.MultiplyWideningAndAdd(c4, w, a); c5 = AvxVnni.MultiplyWideningAndAdd(c5, w, a);
            c6 = AvxVnni.MultiplyWideningAndAdd(c6, w, a); c7 = AvxVnni.MultiplyWideningAndAdd(c7, w, a);
            c8 = AvxVnni.MultiplyWideningAndAdd(c8, w, a); c9 = AvxVnni.MultiplyWideningAndAdd(c9, w, a);
        }
        return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Vector256<float> Fmas(long n, Vector256<float> w)
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default;
        Vector256<float> c5 = default, c6 = default, c7 = default, c8 = default, c9 = default;
        for (long i = 0; i < n; i++)
        {
            c0 = Fma.MultiplyAdd(c0, w, w); c1 = Fma.MultiplyAdd(c1, w, w); c2 = Fma.MultiplyAdd(c2, w, w);
            c3 = Fma.MultiplyAdd(c3, w, w); c4 = Fma.MultiplyAdd(c4, w, w); c5 = Fma.MultiplyAdd(c5, w, w);
            c6 = Fma.MultiplyAdd(c6, w, w); c7 = Fma.MultiplyAdd(c7, w, w); c8 = Fma.MultiplyAdd(c8, w, w);
            c9 = Fma.MultiplyAdd(c9, w, w);
        }
        return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Vector256<int> Mixed(long n, Vector256<byte> w, Vector256<sbyte> a, Vector256<float> f)
    {
        Vector256<int> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
        for (long i = 0; i < n; i++)
        {
            c0 = AvxVnni.MultiplyWideningAndAdd(c0, w, a); c1 = AvxVnni.MultiplyWideningAndAdd(c1, w, a);
            c2 = AvxVnni.MultiplyWideningAndAdd(c2, w, a); c3 = AvxVnni.MultiplyWideningAndAdd(c3, w, a);
            c4 = AvxVnni.MultiplyWideningAndAdd(c4, w, a); c5 = AvxVnni.MultiplyWideningAndAdd(c5, w, a);
            c6 = AvxVnni.MultiplyWideningAndAdd(c6, w, a); c7 = AvxVnni.MultiplyWideningAndAdd(c7, w, a);
            f0 = Fma.MultiplyAdd(f0, f, f); f1 = Fma.MultiplyAdd(f1, f, f);
            f2 = Avx.Multiply(f2, f); f3 = Avx.ConvertToVector256Single(c0);
        }
        return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + (f0 + f1 + f2 + f3).AsInt32();
    }
}
