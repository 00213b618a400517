using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace QwenSharp.Kernels.Arm64;

// The 32-value formats against Q8_0 activations: Q8_0 (int8 quants), Q4_0 (nibble − 8), Q5_0 (nibble | fifth bit·16,
// − 16), IQ4_NL (nibble → grid level, Arm64DotIq4.cs); and against Q8_1: Q4_1 and Q5_1 (Arm64DotMin.cs). Each block's
// weights become two int8 vectors (values 0..15, 16..31: the activations' order), their products with the activation
// block an exact integer sum in 4 int32 lanes, then one conversion and one fmla by the scalar d_w·d_a, as ggml's
// ggml_vec_dot_q4_0_q8_0 & co. sum blocks; the formats with a min add m·s per block beside it (s = d_a·Σa, Q8_1's
// second field). The format is a type parameter, so the JIT compiles one loop per format with the unpacking inlined
// and the min term only where there is one.
internal static unsafe partial class Arm64Dot
{
    /// <summary>A 32-value block format: its size and how its quants become two int8 vectors.</summary>
    internal interface IBlock32
    {
        static abstract int Bytes { get; }
        /// <summary>Whether |quant| ≤ 64, so that the NEON-only path may sum four products per int16 lane.</summary>
        static abstract bool Small { get; }
        /// <summary>value = d·q + m (Q4_1, Q5_1): multiplied against Q8_1 blocks (d, s, 32 int8: 36 bytes), each block
        /// adding m·s; otherwise against Q8_0 blocks (d, 32 int8: 34 bytes).</summary>
        static abstract bool Min { get; }
        static abstract void Load(byte* block, out Vector128<sbyte> x0, out Vector128<sbyte> x1);
    }

    internal struct Q8_0Format : IBlock32
    {
        public static bool Min => false;
        public static int Bytes => 34;
        public static bool Small => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* block, out Vector128<sbyte> x0, out Vector128<sbyte> x1)
        {
            x0 = AdvSimd.LoadVector128((sbyte*)(block + 2));
            x1 = AdvSimd.LoadVector128((sbyte*)(block + 18));
        }
    }

    internal struct Q4_0Format : IBlock32
    {
        public static bool Min => false;
        public static int Bytes => 18;
        public static bool Small => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* block, out Vector128<sbyte> x0, out Vector128<sbyte> x1)
        {
            Nibbles(block + 2, out var lo, out var hi);
            var eight = Vector128.Create((sbyte)8);
            x0 = AdvSimd.Subtract(lo.AsSByte(), eight);
            x1 = AdvSimd.Subtract(hi.AsSByte(), eight);
        }
    }

    internal struct Q5_0Format : IBlock32
    {
        public static bool Min => false;
        public static int Bytes => 22;
        public static bool Small => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* block, out Vector128<sbyte> x0, out Vector128<sbyte> x1)
        {
            Nibbles(block + 6, out var lo, out var hi);
            Q5Offsets(Unsafe.ReadUnaligned<uint>(block + 2), out var offLo, out var offHi);
            x0 = AdvSimd.Subtract(lo.AsSByte(), offLo);
            x1 = AdvSimd.Subtract(hi.AsSByte(), offHi);
        }
    }

    /// <summary>Bytes of the activation block a weight block of <typeparamref name="T"/> meets (Q8_1 or Q8_0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ActBytes<T>() where T : struct, IBlock32 => T.Min ? 36 : 34;

    /// <summary>The integer sum of one weight block (already loaded) with the activation block at <paramref name="a"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> BlockSum<T>(Vector128<sbyte> x0, Vector128<sbyte> x1, byte* a) where T : struct, IBlock32
    {
        // The quants follow Q8_1's d and s, or Q8_0's d (a constant offset per format: a local here cost Q4_0's one-token
        // loop an instruction at arm64-neon, the JIT no longer turning it upside down).
        var y0 = AdvSimd.LoadVector128((sbyte*)(T.Min ? a + 4 : a + 2));
        var y1 = AdvSimd.LoadVector128((sbyte*)(T.Min ? a + 20 : a + 18));
        return T.Small ? Dot32Small(x0, x1, y0, y1) : Dot32(x0, x1, y0, y1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> OneStep<T>(byte* w, byte* a, Vector128<float> acc, float* half) where T : struct, IBlock32
    {
        T.Load(w, out var x0, out var x1);
        return Scaled(acc, BlockSum<T>(x0, x1, a), half[*(ushort*)w] * half[*(ushort*)a]);
    }

    /// <summary>m·s of a block with a min: the weight block's m and the Q8_1 block's s (both fp16, second field).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float MinTerm(byte* w, byte* a, float* half) => half[*(ushort*)(w + 2)] * half[*(ushort*)(a + 2)];

    /// <summary>One row · one token (the formats without a min; OneMin in Arm64DotMin.cs for the others). Four
    /// accumulators, four blocks a step: one fmla chain would wait out its latency
    /// on every block. The fp16 table comes as an argument: read from its static field here, the JIT folds the address
    /// into the code and rebuilds it (movz, movk, movk) at every use instead of keeping it in a register.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float One<T>(byte* w, byte* a, int n, float* half) where T : struct, IBlock32
    {
        var acc0 = Vector128<float>.Zero;
        var acc1 = Vector128<float>.Zero;
        var acc2 = Vector128<float>.Zero;
        var acc3 = Vector128<float>.Zero;
        int blocks = n / 32, b = 0, wb = T.Bytes;
        for (; b + 3 < blocks; b += 4, w += 4 * wb, a += 136)
        {
            acc0 = OneStep<T>(w, a, acc0, half);
            acc1 = OneStep<T>(w + wb, a + 34, acc1, half);
            acc2 = OneStep<T>(w + 2 * wb, a + 68, acc2, half);
            acc3 = OneStep<T>(w + 3 * wb, a + 102, acc3, half);
        }
        for (; b < blocks; b++, w += wb, a += 34) acc0 = OneStep<T>(w, a, acc0, half);
        return Vector128.Sum(AdvSimd.Add(AdvSimd.Add(acc0, acc1), AdvSimd.Add(acc2, acc3)));
    }

    /// <summary>One row · several tokens: each weight block unpacked once, then met by every token's block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Many<T>(byte* w, byte* a, long stride, int n, int tokens, float* y, float* half) where T : struct, IBlock32
    {
        var acc = stackalloc Vector128<float>[DotFast.MaxTokens];
        float* mins = stackalloc float[DotFast.MaxTokens];
        for (int t = 0; t < tokens; t++) acc[t] = Vector128<float>.Zero;
        if (T.Min) for (int t = 0; t < tokens; t++) mins[t] = 0;
        for (int b = 0; b < n / 32; b++, w += T.Bytes, a += ActBytes<T>())
        {
            T.Load(w, out var x0, out var x1);
            float dw = half[*(ushort*)w];
            byte* at = a;
            for (int t = 0; t < tokens; t++, at += stride)
            {
                acc[t] = Scaled(acc[t], BlockSum<T>(x0, x1, at), dw * half[*(ushort*)at]);
                if (T.Min) mins[t] += MinTerm(w, at, half);
            }
        }
        if (T.Min) for (int t = 0; t < tokens; t++) y[t] = Vector128.Sum(acc[t]) + mins[t];
        else for (int t = 0; t < tokens; t++) y[t] = Vector128.Sum(acc[t]);
    }

    private static float Q8_0One(byte* w, byte* a, int n) => One<Q8_0Format>(w, a, n, FloatFormats.HalfTable);
    private static float Q4_0One(byte* w, byte* a, int n) => One<Q4_0Format>(w, a, n, FloatFormats.HalfTable);
    private static float Q5_0One(byte* w, byte* a, int n) => One<Q5_0Format>(w, a, n, FloatFormats.HalfTable);
    private static void Q8_0Many(byte* w, byte* a, long stride, int n, int tokens, float* y) => Many<Q8_0Format>(w, a, stride, n, tokens, y, FloatFormats.HalfTable);
    private static void Q4_0Many(byte* w, byte* a, long stride, int n, int tokens, float* y) => Many<Q4_0Format>(w, a, stride, n, tokens, y, FloatFormats.HalfTable);
    private static void Q5_0Many(byte* w, byte* a, long stride, int n, int tokens, float* y) => Many<Q5_0Format>(w, a, stride, n, tokens, y, FloatFormats.HalfTable);
}
