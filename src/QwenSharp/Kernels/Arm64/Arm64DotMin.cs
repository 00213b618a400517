using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace QwenSharp.Kernels.Arm64;

// Q4_1 and Q5_1 · Q8_1: the 32-value formats with a min, value = d·q + m. Against activations a·da (Q8_1, whose s holds
// da·Σa) a block's product is d·da·Σ q·a + m·s (ggml_vec_dot_q4_1_q8_1 / _q5_1_q8_1; DotFastMin.cs on x86). The quants
// stay unsigned (0..15, or 0..31 with the fifth bit: within the 64 that lets the NEON-only path sum four products per
// int16 lane) and go through the generic 32-value loops (Arm64Dot32.cs, Arm64DotBlock.cs), whose IBlock32.Min adds the
// m·s term: a scalar per block for one token, one fmla by m_w over four tokens' s in the 2 × 4 block.
// Block layouts: Q4_1 d, m, 16 bytes of nibbles (20 bytes); Q5_1 d, m, 32 fifth bits, nibbles (24 bytes).
// Twins: DotPlain.Q4_1 and DotPlain.Q5_1, via Arm64KernelTests.
internal static unsafe partial class Arm64Dot
{
    internal struct Q4_1Format : IBlock32
    {
        public static int Bytes => 20;
        public static bool Small => true;
        public static bool Min => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* block, out Vector128<sbyte> x0, out Vector128<sbyte> x1)
        {
            Nibbles(block + 4, out var lo, out var hi);
            x0 = lo.AsSByte();
            x1 = hi.AsSByte();
        }
    }

    internal struct Q5_1Format : IBlock32
    {
        public static int Bytes => 24;
        public static bool Small => true;
        public static bool Min => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* block, out Vector128<sbyte> x0, out Vector128<sbyte> x1)
        {
            Nibbles(block + 8, out var lo, out var hi);
            Q5Masks(Unsafe.ReadUnaligned<uint>(block + 4), out var mlo, out var mhi);
            var sixteen = Vector128.Create((byte)16);
            x0 = AdvSimd.Or(lo, AdvSimd.And(mlo, sixteen)).AsSByte();
            x1 = AdvSimd.Or(hi, AdvSimd.And(mhi, sixteen)).AsSByte();
        }
    }

    /// <summary>One row · one token for the formats with a min: One's loop (four accumulators, four blocks a step) with
    /// the m·s terms summed beside it in a tree of adds, since one chain would wait on every block. A loop of its own, so
    /// that One's code for the other formats stays as it was.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float OneMin<T>(byte* w, byte* a, int n, float* half) where T : struct, IBlock32
    {
        var acc0 = Vector128<float>.Zero;
        var acc1 = Vector128<float>.Zero;
        var acc2 = Vector128<float>.Zero;
        var acc3 = Vector128<float>.Zero;
        float mins = 0;
        int blocks = n / 32, b = 0, wb = T.Bytes;
        for (; b + 3 < blocks; b += 4, w += 4 * wb, a += 144)
        {
            acc0 = OneStep<T>(w, a, acc0, half);
            acc1 = OneStep<T>(w + wb, a + 36, acc1, half);
            acc2 = OneStep<T>(w + 2 * wb, a + 72, acc2, half);
            acc3 = OneStep<T>(w + 3 * wb, a + 108, acc3, half);
            mins += (MinTerm(w, a, half) + MinTerm(w + wb, a + 36, half)) + (MinTerm(w + 2 * wb, a + 72, half) + MinTerm(w + 3 * wb, a + 108, half));
        }
        for (; b < blocks; b++, w += wb, a += 36)
        {
            acc0 = OneStep<T>(w, a, acc0, half);
            mins += MinTerm(w, a, half);
        }
        return Vector128.Sum(AdvSimd.Add(AdvSimd.Add(acc0, acc1), AdvSimd.Add(acc2, acc3))) + mins;
    }

    private static float Q4_1One(byte* w, byte* a, int n) => OneMin<Q4_1Format>(w, a, n, FloatFormats.HalfTable);
    private static float Q5_1One(byte* w, byte* a, int n) => OneMin<Q5_1Format>(w, a, n, FloatFormats.HalfTable);
    private static void Q4_1Many(byte* w, byte* a, long stride, int n, int tokens, float* y) => Many<Q4_1Format>(w, a, stride, n, tokens, y, FloatFormats.HalfTable);
    private static void Q5_1Many(byte* w, byte* a, long stride, int n, int tokens, float* y) => Many<Q5_1Format>(w, a, stride, n, tokens, y, FloatFormats.HalfTable);
}
