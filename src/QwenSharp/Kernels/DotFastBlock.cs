using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

// Register-blocked prefill kernels: 2 weight rows × 4 tokens, all eight accumulators in registers, so each
// unpacked weight block serves four tokens and each activation block two rows (and, for Q4_0, the Σ8·a
// correction is shared by both rows). Output y[r·4 + t]. Twins: the plain dot products, via the tests.
internal static unsafe partial class DotFast
{
    /// <summary>2 rows × 4 tokens; null where the format has none (the callers fall back to <see cref="SelectMany"/>).</summary>
    public static delegate*<byte*, byte*, byte*, long, int, float*, void> SelectBlock(GgmlType type)
    {
        if (!Supported) return null;
        return type switch
        {
            GgmlType.Q8_0 => &Q8_0Block,
            GgmlType.Q4_0 => &Q4_0Block,
            _ => null,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fmadd(Vector256<int> p, float scale, Vector256<float> acc) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(scale), acc);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q8_0Block(byte* w0, byte* w1, byte* a, long stride, int n, float* y)
    {
        float* ht = FloatFormats.HalfTable;
        Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector256<float> c10 = default, c11 = default, c12 = default, c13 = default;
        byte* a0 = a, a1 = a + stride, a2 = a + 2 * stride, a3 = a + 3 * stride;
        for (int b = 0; b < n / 32; b++)
        {
            long wo = 34L * b;
            var x0 = Avx.LoadVector256((sbyte*)(w0 + wo + 2));
            var x1 = Avx.LoadVector256((sbyte*)(w1 + wo + 2));
            var u0 = Avx2.Abs(x0);
            var u1 = Avx2.Abs(x1);
            float d0 = ht[*(ushort*)(w0 + wo)], d1 = ht[*(ushort*)(w1 + wo)];

            var q = Avx.LoadVector256((sbyte*)(a0 + wo + 2)); float da = ht[*(ushort*)(a0 + wo)];
            c00 = Fmadd(DotU8S8(default, u0, Avx2.Sign(q, x0)), d0 * da, c00);
            c10 = Fmadd(DotU8S8(default, u1, Avx2.Sign(q, x1)), d1 * da, c10);
            q = Avx.LoadVector256((sbyte*)(a1 + wo + 2)); da = ht[*(ushort*)(a1 + wo)];
            c01 = Fmadd(DotU8S8(default, u0, Avx2.Sign(q, x0)), d0 * da, c01);
            c11 = Fmadd(DotU8S8(default, u1, Avx2.Sign(q, x1)), d1 * da, c11);
            q = Avx.LoadVector256((sbyte*)(a2 + wo + 2)); da = ht[*(ushort*)(a2 + wo)];
            c02 = Fmadd(DotU8S8(default, u0, Avx2.Sign(q, x0)), d0 * da, c02);
            c12 = Fmadd(DotU8S8(default, u1, Avx2.Sign(q, x1)), d1 * da, c12);
            q = Avx.LoadVector256((sbyte*)(a3 + wo + 2)); da = ht[*(ushort*)(a3 + wo)];
            c03 = Fmadd(DotU8S8(default, u0, Avx2.Sign(q, x0)), d0 * da, c03);
            c13 = Fmadd(DotU8S8(default, u1, Avx2.Sign(q, x1)), d1 * da, c13);
        }
        y[0] = Vector256.Sum(c00); y[1] = Vector256.Sum(c01); y[2] = Vector256.Sum(c02); y[3] = Vector256.Sum(c03);
        y[4] = Vector256.Sum(c10); y[5] = Vector256.Sum(c11); y[6] = Vector256.Sum(c12); y[7] = Vector256.Sum(c13);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_0Block(byte* w0, byte* w1, byte* a, long stride, int n, float* y)
    {
        float* ht = FloatFormats.HalfTable;
        var eight = Vector256.Create((byte)8);
        Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector256<float> c10 = default, c11 = default, c12 = default, c13 = default;
        byte* a0 = a, a1 = a + stride, a2 = a + 2 * stride, a3 = a + 3 * stride;
        for (int b = 0; b < n / 32; b++)
        {
            long wo = 18L * b, ao = 34L * b;
            var q0 = Nibbles(w0 + wo + 2);
            var q1 = Nibbles(w1 + wo + 2);
            float d0 = ht[*(ushort*)(w0 + wo)], d1 = ht[*(ushort*)(w1 + wo)];

            var q = Avx.LoadVector256((sbyte*)(a0 + ao + 2)); float da = ht[*(ushort*)(a0 + ao)];
            var s = DotU8S8(default, eight, q);
            c00 = Fmadd(Avx2.Subtract(DotU8S8(default, q0, q), s), d0 * da, c00);
            c10 = Fmadd(Avx2.Subtract(DotU8S8(default, q1, q), s), d1 * da, c10);
            q = Avx.LoadVector256((sbyte*)(a1 + ao + 2)); da = ht[*(ushort*)(a1 + ao)];
            s = DotU8S8(default, eight, q);
            c01 = Fmadd(Avx2.Subtract(DotU8S8(default, q0, q), s), d0 * da, c01);
            c11 = Fmadd(Avx2.Subtract(DotU8S8(default, q1, q), s), d1 * da, c11);
            q = Avx.LoadVector256((sbyte*)(a2 + ao + 2)); da = ht[*(ushort*)(a2 + ao)];
            s = DotU8S8(default, eight, q);
            c02 = Fmadd(Avx2.Subtract(DotU8S8(default, q0, q), s), d0 * da, c02);
            c12 = Fmadd(Avx2.Subtract(DotU8S8(default, q1, q), s), d1 * da, c12);
            q = Avx.LoadVector256((sbyte*)(a3 + ao + 2)); da = ht[*(ushort*)(a3 + ao)];
            s = DotU8S8(default, eight, q);
            c03 = Fmadd(Avx2.Subtract(DotU8S8(default, q0, q), s), d0 * da, c03);
            c13 = Fmadd(Avx2.Subtract(DotU8S8(default, q1, q), s), d1 * da, c13);
        }
        y[0] = Vector256.Sum(c00); y[1] = Vector256.Sum(c01); y[2] = Vector256.Sum(c02); y[3] = Vector256.Sum(c03);
        y[4] = Vector256.Sum(c10); y[5] = Vector256.Sum(c11); y[6] = Vector256.Sum(c12); y[7] = Vector256.Sum(c13);
    }
}
