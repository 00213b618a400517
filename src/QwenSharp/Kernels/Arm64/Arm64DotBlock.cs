using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace QwenSharp.Kernels.Arm64;

// 2 weight rows × 4 tokens for the 32-value formats (prefill and batched decode; Q4_1 and Q5_1 add m_w·s_a per token): each unpacked weight block serves
// four tokens and each activation block two rows, all in registers. The four tokens' integer sums of a row are folded
// by addp into one vector whose lanes are the tokens, so a row pays one conversion and one fmla per block for its four
// tokens (scaled by d_w·[d_a0..d_a3]), and its accumulator holds y for those tokens directly: no horizontal sums.
internal static unsafe partial class Arm64Dot
{
    /// <summary>[Σp0, Σp1, Σp2, Σp3]: each token's four lanes added (exact integer sums).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Fold(Vector128<int> p0, Vector128<int> p1, Vector128<int> p2, Vector128<int> p3) =>
        AdvSimd.Arm64.AddPairwise(AdvSimd.Arm64.AddPairwise(p0, p1), AdvSimd.Arm64.AddPairwise(p2, p3));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<T>(byte* w0, byte* w1, byte* a, long stride, int n, float* y, float* ht) where T : struct, IBlock32
    {
        var c0 = Vector128<float>.Zero;
        var c1 = Vector128<float>.Zero;
        byte* a0 = a, a1 = a + stride, a2 = a + 2 * stride, a3 = a + 3 * stride;
        int ab = ActBytes<T>();
        for (int b = 0; b < n / 32; b++, w0 += T.Bytes, w1 += T.Bytes, a0 += ab, a1 += ab, a2 += ab, a3 += ab)
        {
            T.Load(w0, out var x00, out var x01);
            T.Load(w1, out var x10, out var x11);
            var p00 = BlockSum<T>(x00, x01, a0);
            var p10 = BlockSum<T>(x10, x11, a0);
            var p01 = BlockSum<T>(x00, x01, a1);
            var p11 = BlockSum<T>(x10, x11, a1);
            var p02 = BlockSum<T>(x00, x01, a2);
            var p12 = BlockSum<T>(x10, x11, a2);
            var p03 = BlockSum<T>(x00, x01, a3);
            var p13 = BlockSum<T>(x10, x11, a3);
            var da = Vector128.Create(ht[*(ushort*)a0], ht[*(ushort*)a1], ht[*(ushort*)a2], ht[*(ushort*)a3]);
            c0 = AdvSimd.FusedMultiplyAdd(c0, AdvSimd.ConvertToSingle(Fold(p00, p01, p02, p03)),
                AdvSimd.MultiplyByScalar(da, Vector64.CreateScalarUnsafe(ht[*(ushort*)w0])));
            c1 = AdvSimd.FusedMultiplyAdd(c1, AdvSimd.ConvertToSingle(Fold(p10, p11, p12, p13)),
                AdvSimd.MultiplyByScalar(da, Vector64.CreateScalarUnsafe(ht[*(ushort*)w1])));
            if (T.Min)
            {
                // m_w·[s_a0..s_a3]: the four tokens' min terms of each row in one fmla.
                var sa = Vector128.Create(ht[*(ushort*)(a0 + 2)], ht[*(ushort*)(a1 + 2)], ht[*(ushort*)(a2 + 2)], ht[*(ushort*)(a3 + 2)]);
                c0 = AdvSimd.Arm64.FusedMultiplyAddByScalar(c0, sa, Vector64.CreateScalarUnsafe(ht[*(ushort*)(w0 + 2)]));
                c1 = AdvSimd.Arm64.FusedMultiplyAddByScalar(c1, sa, Vector64.CreateScalarUnsafe(ht[*(ushort*)(w1 + 2)]));
            }
        }
        AdvSimd.Store(y, c0);
        AdvSimd.Store(y + 4, c1);
    }

    private static void Q8_0Block(byte* w0, byte* w1, byte* a, long stride, int n, float* y) => Block<Q8_0Format>(w0, w1, a, stride, n, y, FloatFormats.HalfTable);
    private static void Q4_0Block(byte* w0, byte* w1, byte* a, long stride, int n, float* y) => Block<Q4_0Format>(w0, w1, a, stride, n, y, FloatFormats.HalfTable);
    private static void Q5_0Block(byte* w0, byte* w1, byte* a, long stride, int n, float* y) => Block<Q5_0Format>(w0, w1, a, stride, n, y, FloatFormats.HalfTable);
    private static void Q4_1Block(byte* w0, byte* w1, byte* a, long stride, int n, float* y) => Block<Q4_1Format>(w0, w1, a, stride, n, y, FloatFormats.HalfTable);
    private static void Q5_1Block(byte* w0, byte* w1, byte* a, long stride, int n, float* y) => Block<Q5_1Format>(w0, w1, a, stride, n, y, FloatFormats.HalfTable);
    private static void IQ4_NLBlock(byte* w0, byte* w1, byte* a, long stride, int n, float* y) => Block<IQ4_NLFormat>(w0, w1, a, stride, n, y, FloatFormats.HalfTable);
}
