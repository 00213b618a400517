using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

/// <summary>
/// The fast kernels for F32, F16 and BF16 weights. llama.cpp rounds activations to the weight's format and
/// multiplies in f32 (ggml_vec_dot_f16/_bf16 convert both sides to f32 and FMA), so the activations are kept
/// here as f32 values already rounded to F16/BF16 (<see cref="RoundActivations"/>): same products, and only the
/// weights need converting in the loop (batches of tokens go through <see cref="FloatGemm"/>). AVX2+FMA at 256
/// bits (which Zen 4 runs at the rate of 512); elsewhere TensorPrimitives' portable vectors.
/// </summary>
internal static unsafe class FloatDot
{
    public static bool IsFloat(GgmlType t) => t is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16;

    [ThreadStatic] private static Half[]? _halves;

    /// <summary>Activations as llama.cpp sees them for these weights: rounded to F16 or BF16, held as f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RoundActivations(GgmlType weightType, float* x, float* dst, int n)
    {
        switch (weightType)
        {
            case GgmlType.F32: new ReadOnlySpan<float>(x, n).CopyTo(new Span<float>(dst, n)); break;
            case GgmlType.F16:
                // TensorPrimitives' vectorized conversions round exactly as the (Half) cast (nearest even).
                if (_halves == null || _halves.Length < n) _halves = new Half[Math.Max(n, 4096)];
                var halves = _halves.AsSpan(0, n);
                System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(new ReadOnlySpan<float>(x, n), halves);
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(halves, new Span<float>(dst, n));
                break;
            default:
                for (int i = 0; i < n; i++) dst[i] = FloatFormats.BFloat16ToSingle(FloatFormats.SingleToBFloat16(x[i]));
                break;
        }
    }

    // The element format as a type parameter, so that the JIT compiles one loop per format with no branch inside.
    private interface IFormat
    {
        static abstract Vector256<float> Load(byte* w, int i);
        static abstract float Scalar(byte* w, int i);
    }

    private struct F32Format : IFormat
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load(byte* w, int i) => Avx.LoadVector256((float*)w + i);
        public static float Scalar(byte* w, int i) => ((float*)w)[i];
    }

    private struct BF16Format : IFormat
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load(byte* w, int i) =>
            Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(Sse2.LoadVector128((ushort*)w + i)), 16).AsSingle();
        public static float Scalar(byte* w, int i) => FloatFormats.BFloat16ToSingle(((ushort*)w)[i]);
    }

    private struct F16Format : IFormat
    {
        /// <summary>fp16 → fp32 by bits (.NET exposes no vcvtph2ps): the halves sign-extended to int32 put the
        /// sign in bit 31; (exponent|mantissa) &lt;&lt; 13 times 2^112 re-biases normals and subnormals alike;
        /// exponent 31 (inf, NaN) gets the f32 all-ones exponent.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load(byte* w, int i)
        {
            var h = Avx2.ConvertToVector256Int32(Sse2.LoadVector128((short*)w + i));
            var em = Avx2.And(h, Vector256.Create(0x7fff));
            var shifted = Avx2.ShiftLeftLogical(em, 13);
            var f = Avx.Multiply(shifted.AsSingle(), Vector256.Create(5.192296858534828e33f));
            var special = Avx2.CompareGreaterThan(em, Vector256.Create(0x7bff)).AsSingle();
            f = Avx.BlendVariable(f, Avx2.Or(shifted, Vector256.Create(0x7f800000)).AsSingle(), special);
            return Avx.Or(f, Avx2.And(h, Vector256.Create(int.MinValue)).AsSingle());
        }
        public static float Scalar(byte* w, int i) => FloatFormats.HalfTable[((ushort*)w)[i]];
    }

    /// <summary>A weight row as f32 (F32 rows are used in place by the callers).</summary>
    public static void ToSingle(GgmlType type, byte* w, float* dst, int n)
    {
        switch (type)
        {
            case GgmlType.F32: ToSingle<F32Format>(w, dst, n); break;
            case GgmlType.F16:
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(w, n), new Span<float>(dst, n));
                break;
            default: ToSingle<BF16Format>(w, dst, n); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ToSingle<T>(byte* w, float* dst, int n) where T : struct, IFormat
    {
        int i = 0;
        if (KernelTiers.X86)
            for (; i + 8 <= n; i += 8) Avx.Store(dst + i, T.Load(w, i));
        for (; i < n; i++) dst[i] = T.Scalar(w, i);
    }

    /// <summary>One row · one token.</summary>
    public static float One(GgmlType type, byte* w, float* a, int n) => KernelTiers.Neon ? Arm64.Arm64FloatDot.One(type, w, a, n) : type switch
    {
        GgmlType.F32 => One<F32Format>(w, a, n),
        GgmlType.F16 => One<F16Format>(w, a, n),
        _ => One<BF16Format>(w, a, n),
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float One<T>(byte* w, float* a, int n) where T : struct, IFormat
    {
        if (!KernelTiers.X86)
        {
            if (typeof(T) == typeof(F32Format))
                return System.Numerics.Tensors.TensorPrimitives.Dot(new ReadOnlySpan<float>(w, n), new ReadOnlySpan<float>(a, n));
            float s = 0;
            for (int j = 0; j < n; j++) s += T.Scalar(w, j) * a[j];
            return s;
        }
        // Four FMA chains, 32 values a step: with two, each chain waited out the FMA latency (decode is read-bound
        // only when the loop keeps up with memory).
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        var acc3 = Vector256<float>.Zero;
        int i = 0;
        int width = typeof(T) == typeof(F32Format) ? 4 : 2;
        for (; i + 32 <= n; i += 32)
        {
            // The stream fetched ahead, as the one-row quantized kernels do (DotFast.FetchAhead).
            byte* ahead = w + (long)i * width + DotFast.AheadBytes;
            Sse.Prefetch0(ahead);
            if (width == 4) Sse.Prefetch0(ahead + 64);
            acc0 = Fma.MultiplyAdd(T.Load(w, i), Avx.LoadVector256(a + i), acc0);
            acc1 = Fma.MultiplyAdd(T.Load(w, i + 8), Avx.LoadVector256(a + i + 8), acc1);
            acc2 = Fma.MultiplyAdd(T.Load(w, i + 16), Avx.LoadVector256(a + i + 16), acc2);
            acc3 = Fma.MultiplyAdd(T.Load(w, i + 24), Avx.LoadVector256(a + i + 24), acc3);
        }
        for (; i + 8 <= n; i += 8) acc0 = Fma.MultiplyAdd(T.Load(w, i), Avx.LoadVector256(a + i), acc0);
        float sum = Vector256.Sum(Avx.Add(Avx.Add(acc0, acc1), Avx.Add(acc2, acc3)));
        for (; i < n; i++) sum += T.Scalar(w, i) * a[i];
        return sum;
    }
}
