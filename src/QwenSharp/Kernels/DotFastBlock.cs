using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

// Register-blocked multi-token kernels (RowLaneGemm takes their place on CPUs with AVX-VNNI): 2 weight rows × 4 tokens, all eight accumulators in registers, so each
// unpacked weight block serves four tokens and each activation block two rows (and, for Q4_0, the Σ8·a
// correction is shared by both rows). Output y[r·4 + t]. Twins: the plain dot products, via the tests.
internal static unsafe partial class DotFast
{
    /// <summary>2 rows × 4 tokens; null where the format has none (the callers fall back to <see cref="SelectMany"/>).</summary>
    public static delegate*<byte*, byte*, byte*, long, int, float*, void> SelectBlock(GgmlType type)
    {
        if (KernelTiers.Neon) return Arm64.Arm64Dot.SelectBlock(type);
        if (!Supported) return null;
        if (KernelTiers.Vnni)
            return type switch
            {
                GgmlType.Q8_0 => &Q8_0BlockVnni,
                GgmlType.Q4_0 => &Q4_0BlockVnni,
                GgmlType.Q5_0 => &Q5_0BlockVnni,
                _ => null,
            };
        return type switch
        {
            GgmlType.Q8_0 => &Q8_0Block,
            GgmlType.Q4_0 => &Q4_0Block,
            _ => null,
        };
    }

    // With VNNI the activations go in as the unsigned operand, a + 128 (a flipped sign bit), and the signed weights
    // as the other: Σ w·a = Σ w·(a + 128) − 128·Σ w, the correction started in each lane's accumulator from the
    // weight block alone (shared by the four tokens). Per row·token pair that leaves vpdpbusd, one conversion and
    // an FMA. Plain AVX2 cannot do this (vpmaddubsw would saturate at 255·127·2), hence the sign-trick kernels below.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MinusSum128(Vector256<sbyte> w) =>
        Avx2.Subtract(Vector256<int>.Zero, Avx2.ShiftLeftLogical(AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, Vector256<byte>.One, w), 7));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Pair(Vector256<int> init, Vector256<byte> ua, Vector256<sbyte> w, Vector256<float> dw, Vector256<float> da, Vector256<float> acc) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(AvxVnni.MultiplyWideningAndAdd(init, ua, w)), Avx.Multiply(dw, da), acc);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q8_0BlockVnni(byte* w0, byte* w1, byte* a, long stride, int n, float* y)
    {
        float* ht = FloatFormats.HalfTable;
        var flip = Vector256.Create((byte)0x80);
        Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector256<float> c10 = default, c11 = default, c12 = default, c13 = default;
        byte* a0 = a, a1 = a + stride, a2 = a + 2 * stride, a3 = a + 3 * stride;
        for (int b = 0; b < n / 32; b++)
        {
            long o = 34L * b;
            var x0 = Avx.LoadVector256((sbyte*)(w0 + o + 2));
            var x1 = Avx.LoadVector256((sbyte*)(w1 + o + 2));
            var i0 = MinusSum128(x0);
            var i1 = MinusSum128(x1);
            var d0 = Vector256.Create(ht[*(ushort*)(w0 + o)]);
            var d1 = Vector256.Create(ht[*(ushort*)(w1 + o)]);

            var u = Avx2.Xor(Avx.LoadVector256(a0 + o + 2), flip); var da = Vector256.Create(ht[*(ushort*)(a0 + o)]);
            c00 = Pair(i0, u, x0, d0, da, c00); c10 = Pair(i1, u, x1, d1, da, c10);
            u = Avx2.Xor(Avx.LoadVector256(a1 + o + 2), flip); da = Vector256.Create(ht[*(ushort*)(a1 + o)]);
            c01 = Pair(i0, u, x0, d0, da, c01); c11 = Pair(i1, u, x1, d1, da, c11);
            u = Avx2.Xor(Avx.LoadVector256(a2 + o + 2), flip); da = Vector256.Create(ht[*(ushort*)(a2 + o)]);
            c02 = Pair(i0, u, x0, d0, da, c02); c12 = Pair(i1, u, x1, d1, da, c12);
            u = Avx2.Xor(Avx.LoadVector256(a3 + o + 2), flip); da = Vector256.Create(ht[*(ushort*)(a3 + o)]);
            c03 = Pair(i0, u, x0, d0, da, c03); c13 = Pair(i1, u, x1, d1, da, c13);
        }
        y[0] = Vector256.Sum(c00); y[1] = Vector256.Sum(c01); y[2] = Vector256.Sum(c02); y[3] = Vector256.Sum(c03);
        y[4] = Vector256.Sum(c10); y[5] = Vector256.Sum(c11); y[6] = Vector256.Sum(c12); y[7] = Vector256.Sum(c13);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_0BlockVnni(byte* w0, byte* w1, byte* a, long stride, int n, float* y)
    {
        float* ht = FloatFormats.HalfTable;
        var flip = Vector256.Create((byte)0x80);
        var eight = Vector256.Create((sbyte)8);
        Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector256<float> c10 = default, c11 = default, c12 = default, c13 = default;
        byte* a0 = a, a1 = a + stride, a2 = a + 2 * stride, a3 = a + 3 * stride;
        for (int b = 0; b < n / 32; b++)
        {
            long wo = 18L * b, o = 34L * b;
            var x0 = Avx2.Subtract(Nibbles(w0 + wo + 2).AsSByte(), eight);
            var x1 = Avx2.Subtract(Nibbles(w1 + wo + 2).AsSByte(), eight);
            var i0 = MinusSum128(x0);
            var i1 = MinusSum128(x1);
            var d0 = Vector256.Create(ht[*(ushort*)(w0 + wo)]);
            var d1 = Vector256.Create(ht[*(ushort*)(w1 + wo)]);

            var u = Avx2.Xor(Avx.LoadVector256(a0 + o + 2), flip); var da = Vector256.Create(ht[*(ushort*)(a0 + o)]);
            c00 = Pair(i0, u, x0, d0, da, c00); c10 = Pair(i1, u, x1, d1, da, c10);
            u = Avx2.Xor(Avx.LoadVector256(a1 + o + 2), flip); da = Vector256.Create(ht[*(ushort*)(a1 + o)]);
            c01 = Pair(i0, u, x0, d0, da, c01); c11 = Pair(i1, u, x1, d1, da, c11);
            u = Avx2.Xor(Avx.LoadVector256(a2 + o + 2), flip); da = Vector256.Create(ht[*(ushort*)(a2 + o)]);
            c02 = Pair(i0, u, x0, d0, da, c02); c12 = Pair(i1, u, x1, d1, da, c12);
            u = Avx2.Xor(Avx.LoadVector256(a3 + o + 2), flip); da = Vector256.Create(ht[*(ushort*)(a3 + o)]);
            c03 = Pair(i0, u, x0, d0, da, c03); c13 = Pair(i1, u, x1, d1, da, c13);
        }
        y[0] = Vector256.Sum(c00); y[1] = Vector256.Sum(c01); y[2] = Vector256.Sum(c02); y[3] = Vector256.Sum(c03);
        y[4] = Vector256.Sum(c10); y[5] = Vector256.Sum(c11); y[6] = Vector256.Sum(c12); y[7] = Vector256.Sum(c13);
    }


    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q5_0BlockVnni(byte* w0, byte* w1, byte* a, long stride, int n, float* y)
    {
        float* ht = FloatFormats.HalfTable;
        var flip = Vector256.Create((byte)0x80);
        var sixteen = Vector256.Create((sbyte)16);
        Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector256<float> c10 = default, c11 = default, c12 = default, c13 = default;
        byte* a0 = a, a1 = a + stride, a2 = a + 2 * stride, a3 = a + 3 * stride;
        for (int b = 0; b < n / 32; b++)
        {
            long wo = 22L * b, o = 34L * b;
            var x0 = Avx2.Subtract(Q5Quants(w0 + wo).AsSByte(), sixteen);
            var x1 = Avx2.Subtract(Q5Quants(w1 + wo).AsSByte(), sixteen);
            var i0 = MinusSum128(x0);
            var i1 = MinusSum128(x1);
            var d0 = Vector256.Create(ht[*(ushort*)(w0 + wo)]);
            var d1 = Vector256.Create(ht[*(ushort*)(w1 + wo)]);

            var u = Avx2.Xor(Avx.LoadVector256(a0 + o + 2), flip); var da = Vector256.Create(ht[*(ushort*)(a0 + o)]);
            c00 = Pair(i0, u, x0, d0, da, c00); c10 = Pair(i1, u, x1, d1, da, c10);
            u = Avx2.Xor(Avx.LoadVector256(a1 + o + 2), flip); da = Vector256.Create(ht[*(ushort*)(a1 + o)]);
            c01 = Pair(i0, u, x0, d0, da, c01); c11 = Pair(i1, u, x1, d1, da, c11);
            u = Avx2.Xor(Avx.LoadVector256(a2 + o + 2), flip); da = Vector256.Create(ht[*(ushort*)(a2 + o)]);
            c02 = Pair(i0, u, x0, d0, da, c02); c12 = Pair(i1, u, x1, d1, da, c12);
            u = Avx2.Xor(Avx.LoadVector256(a3 + o + 2), flip); da = Vector256.Create(ht[*(ushort*)(a3 + o)]);
            c03 = Pair(i0, u, x0, d0, da, c03); c13 = Pair(i1, u, x1, d1, da, c13);
        }
        y[0] = Vector256.Sum(c00); y[1] = Vector256.Sum(c01); y[2] = Vector256.Sum(c02); y[3] = Vector256.Sum(c03);
        y[4] = Vector256.Sum(c10); y[5] = Vector256.Sum(c11); y[6] = Vector256.Sum(c12); y[7] = Vector256.Sum(c13);
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
