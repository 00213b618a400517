using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QwenSharp.Kernels;

/// <summary>
/// One fp16 weight row · f32 activations (decode with F16 weights), converting the halves in registers as they
/// stream by: no row buffer written and read back. .NET 10 exposes no vcvtph2ps, so the conversion is by bits
/// (as <see cref="FloatDot"/>'s F16 loads, at 512 bits): the halves sign-extended to int32 carry the sign in
/// bit 31; (exponent|mantissa) &lt;&lt; 13 read as f32 and multiplied by 2^112 re-biases the exponent from 15 to
/// 127, which is exact for normals and subnormals alike. Exponent 31 (inf, NaN) would come out finite, so the
/// loop keeps the largest exponent|mantissa seen and a row holding one is redone by <see cref="Plain"/>
/// (weights never hold them; the answer stays right if they do). Twin: <see cref="Plain"/>.
/// <para>At both widths the sign rides along instead of being put back: the halves sign-extended and
/// shifted left by 13 hold the sign in bit 31 (and copies of it in bits 28-30, which one AND clears), exponent|mantissa
/// in bits 13-27, so AND, multiply and FMA are all a value costs beside its load; the inf/NaN watch runs on the
/// 16-bit halves, sixteen at a time.</para>
/// </summary>
internal static unsafe class HalfDot
{
    public static bool Supported => KernelTiers.X86 || KernelTiers.Neon;

    /// <summary>Σ w[i]·a[i] over n values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(ushort* w, float* a, int n)
    {
        if (KernelTiers.Neon) return Arm64.Arm64FloatDot.Half(w, a, n);
        if (!KernelTiers.Avx512) return KernelTiers.X86 ? Dot256(w, a, n) : Plain(w, a, n);
        float* half = FloatFormats.HalfTable;
        var acc0 = Vector512<float>.Zero;
        var acc1 = Vector512<float>.Zero;
        var acc2 = Vector512<float>.Zero;
        var acc3 = Vector512<float>.Zero;
        var top = Vector512<short>.Zero;
        var magnitude = Vector512.Create((short)0x7fff);
        var keep = Vector512.Create(unchecked((int)0x8FFFE000));
        var rebias = Vector512.Create(5.192296858534828e33f); // 2^112
        int i = 0;
        // Four independent FMA chains, 64 values (128 bytes of weights) a step, the stream fetched ahead.
        for (; i + 64 <= n; i += 64)
        {
            Sse.Prefetch0(w + i + Ahead);
            Sse.Prefetch0(w + i + Ahead + 32);
            top = Avx512BW.Max(top, Avx512F.And(Avx512F.LoadVector512((short*)(w + i)), magnitude));
            top = Avx512BW.Max(top, Avx512F.And(Avx512F.LoadVector512((short*)(w + i + 32)), magnitude));
            acc0 = Avx512F.FusedMultiplyAdd(Load16(w + i, keep, rebias), Avx512F.LoadVector512(a + i), acc0);
            acc1 = Avx512F.FusedMultiplyAdd(Load16(w + i + 16, keep, rebias), Avx512F.LoadVector512(a + i + 16), acc1);
            acc2 = Avx512F.FusedMultiplyAdd(Load16(w + i + 32, keep, rebias), Avx512F.LoadVector512(a + i + 32), acc2);
            acc3 = Avx512F.FusedMultiplyAdd(Load16(w + i + 48, keep, rebias), Avx512F.LoadVector512(a + i + 48), acc3);
        }
        float sum = Vector512.Sum(Avx512F.Add(Avx512F.Add(acc0, acc1), Avx512F.Add(acc2, acc3)));
        for (; i < n; i++) sum += half[w[i]] * a[i];
        if (Vector512.GreaterThanAny(top, Vector512.Create((short)0x7bff))) return Plain(w, a, n);
        return sum;
    }

    /// <summary>How far ahead the weight stream is fetched, in halves (see DotFast.FetchAhead).</summary>
    private const int Ahead = DotFast.AheadBytes / 2;

    /// <summary>Sixteen halves as f32 (finite ones exactly), as <see cref="Load8"/> at 512 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Load16(ushort* w, Vector512<int> keep, Vector512<float> rebias)
    {
        var h = Avx512F.ConvertToVector512Int32(Avx.LoadVector256((short*)w));
        return Avx512F.Multiply(Avx512F.And(Avx512F.ShiftLeftLogical(h, 13), keep).AsSingle(), rebias);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot256(ushort* w, float* a, int n)
    {
        float* half = FloatFormats.HalfTable;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        var acc3 = Vector256<float>.Zero;
        var top = Vector256<short>.Zero;
        var keep = Vector256.Create(unchecked((int)0x8FFFE000));
        var rebias = Vector256.Create(5.192296858534828e33f); // 2^112
        var magnitude = Vector256.Create((short)0x7fff);
        int i = 0;
        // Four FMA chains, 32 values (64 bytes of weights) a step.
        for (; i + 32 <= n; i += 32)
        {
            Sse.Prefetch0(w + i + Ahead);
            top = Avx2.Max(top, Avx2.And(Avx.LoadVector256((short*)(w + i)), magnitude));
            top = Avx2.Max(top, Avx2.And(Avx.LoadVector256((short*)(w + i + 16)), magnitude));
            acc0 = Fma.MultiplyAdd(Load8(w + i, keep, rebias), Avx.LoadVector256(a + i), acc0);
            acc1 = Fma.MultiplyAdd(Load8(w + i + 8, keep, rebias), Avx.LoadVector256(a + i + 8), acc1);
            acc2 = Fma.MultiplyAdd(Load8(w + i + 16, keep, rebias), Avx.LoadVector256(a + i + 16), acc2);
            acc3 = Fma.MultiplyAdd(Load8(w + i + 24, keep, rebias), Avx.LoadVector256(a + i + 24), acc3);
        }
        float sum = Vector256.Sum(Avx.Add(Avx.Add(acc0, acc1), Avx.Add(acc2, acc3)));
        for (; i < n; i++) sum += half[w[i]] * a[i];
        if (Vector256.GreaterThanAny(top, Vector256.Create((short)0x7bff))) return Plain(w, a, n);
        return sum;
    }

    /// <summary>Eight halves as f32 (finite ones exactly; see the class remarks).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Load8(ushort* w, Vector256<int> keep, Vector256<float> rebias)
    {
        var h = Avx2.ConvertToVector256Int32((short*)w);
        return Avx.Multiply(Avx2.And(Avx2.ShiftLeftLogical(h, 13), keep).AsSingle(), rebias);
    }

    /// <summary>The twin: each half converted exactly (ggml's table of all 65536 patterns), summed in order.</summary>
    public static float Plain(ushort* w, float* a, int n)
    {
        float* half = FloatFormats.HalfTable;
        float sum = 0;
        for (int i = 0; i < n; i++) sum += half[w[i]] * a[i];
        return sum;
    }
}
