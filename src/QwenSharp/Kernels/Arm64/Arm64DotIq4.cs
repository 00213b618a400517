using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels.Arm64;

// IQ4_NL · Q8_0 and IQ4_XS · Q8_K (ggml_vec_dot_iq4_nl_q8_0 / _iq4_xs_q8_K; DotFastIq4.cs on x86): the nibbles index
// the 16-level grid with one tbl per 16 values, giving signed int8 weights up to 127 in magnitude, so the NEON-only
// path keeps two products per int16 lane (Dot32: 2·127·127 < 2^15). IQ4_NL is a 32-value format like Q4_0 and runs the
// generic One/Many/Block loops (Arm64Dot32.cs). IQ4_XS: each group of 32's int32 sums times its 6-bit scale − 32 by
// mla by lane into one int32 vector per super-block (at most 8·32·127·127·32 < 2^31), then one fmla by d·y.d.
// Block layouts: IQ4_NL d, 16 bytes of nibbles (18 bytes); IQ4_XS d, scales_h (2 bits per group), scales_l (4 bits
// per group), 128 bytes of nibbles (136 bytes).
// Twins: DotPlain.IQ4_NL and DotPlain.IQ4_XS, via Arm64KernelTests.
#pragma warning disable CA1857 // constant lane indexes once inlined (see Arm64DotK.cs)
internal static unsafe partial class Arm64Dot
{
    /// <summary>kvalues_iq4nl (<see cref="Iq4NlGrid"/>) as a tbl table.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<sbyte> Iq4Grid() =>
        Vector128.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

    /// <summary>32 weights on the grid: values j and j + 16 from the low and high nibbles of 16 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Iq4Weights(byte* qs16, Vector128<sbyte> grid, out Vector128<sbyte> x0, out Vector128<sbyte> x1)
    {
        Nibbles(qs16, out var lo, out var hi);
        x0 = AdvSimd.Arm64.VectorTableLookup(grid, lo.AsSByte());
        x1 = AdvSimd.Arm64.VectorTableLookup(grid, hi.AsSByte());
    }

    internal struct IQ4_NLFormat : IBlock32
    {
        public static int Bytes => 18;
        public static bool Small => false;
        public static bool Min => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* block, out Vector128<sbyte> x0, out Vector128<sbyte> x1) => Iq4Weights(block + 2, Iq4Grid(), out x0, out x1);
    }

    private static float IQ4_NLOne(byte* w, byte* a, int n) => One<IQ4_NLFormat>(w, a, n, FloatFormats.HalfTable);
    private static void IQ4_NLMany(byte* w, byte* a, long stride, int n, int tokens, float* y) => Many<IQ4_NLFormat>(w, a, stride, n, tokens, y, FloatFormats.HalfTable);

    /// <summary>IQ4_XS's 8 scales − 32 as int32 lanes (groups 0..3, 4..7): group g's low 4 bits are bits 4g.. of
    /// scales_l read as one uint, its high 2 bits bits 2g.. of scales_h; ushl by negative counts shifts each lane right
    /// by its own amount, sli joins the two.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Iq4XsScales(byte* w, out Vector128<int> lo, out Vector128<int> hi)
    {
        var l = Vector128.Create(Unsafe.ReadUnaligned<uint>(w + 4));
        var h = Vector128.Create((uint)*(ushort*)(w + 2));
        var three = Vector128.Create(3u);
        var bias = Vector128.Create(32);
        var hlo = AdvSimd.And(AdvSimd.ShiftLogical(h, Vector128.Create(0, -2, -4, -6)), three);
        var hhi = AdvSimd.And(AdvSimd.ShiftLogical(h, Vector128.Create(-8, -10, -12, -14)), three);
        lo = AdvSimd.Subtract(AdvSimd.ShiftLeftAndInsert(AdvSimd.ShiftLogical(l, Vector128.Create(0, -4, -8, -12)), hlo, 4).AsInt32(), bias);
        hi = AdvSimd.Subtract(AdvSimd.ShiftLeftAndInsert(AdvSimd.ShiftLogical(l, Vector128.Create(-16, -20, -24, -28)), hhi, 4).AsInt32(), bias);
    }

    /// <summary>sumi + scale·Σ x·y over one group of 32 (any int8 weights), the scale in lane <paramref name="lane"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> ScaledGroup32(Vector128<int> sumi, Vector128<sbyte> x0, Vector128<sbyte> x1, sbyte* q8,
        Vector128<int> s32, [ConstantExpected(Max = (byte)3)] byte lane) =>
        AdvSimd.MultiplyAddBySelectedScalar(sumi, Dot32(x0, x1, AdvSimd.LoadVector128(q8), AdvSimd.LoadVector128(q8 + 16)), s32, lane);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Iq4XsGroup(Vector128<int> sumi, byte* qs16, sbyte* q8, Vector128<sbyte> grid,
        Vector128<int> s32, [ConstantExpected(Max = (byte)3)] byte lane)
    {
        Iq4Weights(qs16, grid, out var x0, out var x1);
        return ScaledGroup32(sumi, x0, x1, q8, s32, lane);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float IQ4_XSOne(byte* w, byte* a, int n)
    {
        float* half = FloatFormats.HalfTable;
        var grid = Iq4Grid();
        var acc = Vector128<float>.Zero;
        for (int b = 0; b < n / 256; b++, w += sizeof(BlockIQ4_XS), a += sizeof(BlockQ8_K))
        {
            Iq4XsScales(w, out var slo, out var shi);
            byte* qs = w + 8;
            sbyte* q8 = (sbyte*)(a + 4);
            // Two chains (even and odd groups), so that one mla need not wait for the other.
            var sum0 = Iq4XsGroup(Vector128<int>.Zero, qs, q8, grid, slo, 0);
            var sum1 = Iq4XsGroup(Vector128<int>.Zero, qs + 16, q8 + 32, grid, slo, 1);
            sum0 = Iq4XsGroup(sum0, qs + 32, q8 + 64, grid, slo, 2);
            sum1 = Iq4XsGroup(sum1, qs + 48, q8 + 96, grid, slo, 3);
            sum0 = Iq4XsGroup(sum0, qs + 64, q8 + 128, grid, shi, 0);
            sum1 = Iq4XsGroup(sum1, qs + 80, q8 + 160, grid, shi, 1);
            sum0 = Iq4XsGroup(sum0, qs + 96, q8 + 192, grid, shi, 2);
            sum1 = Iq4XsGroup(sum1, qs + 112, q8 + 224, grid, shi, 3);
            acc = Scaled(acc, AdvSimd.Add(sum0, sum1), half[*(ushort*)w] * *(float*)a);
        }
        return Vector128.Sum(acc);
    }

    /// <summary>One IQ4_XS row · several tokens: each super-block's weights looked up once into a KBlock (Q as int8
    /// weights, S32[0..7] the scales − 32, D), then met by every token of the tile from L1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void IQ4_XSMany(byte* w, byte* a, long stride, int n, int tokens, float* y)
    {
        float* half = FloatFormats.HalfTable;
        var grid = Iq4Grid();
        KBlock k;
        sbyte* q = (sbyte*)(&k)->Q;
        var acc = stackalloc Vector128<float>[DotFast.MaxTokens];
        for (int t = 0; t < tokens; t++) acc[t] = Vector128<float>.Zero;
        for (int b = 0; b < n / 256; b++, w += sizeof(BlockIQ4_XS), a += sizeof(BlockQ8_K))
        {
            Iq4XsScales(w, out var slo, out var shi);
            for (int g = 0; g < 8; g++)
            {
                Iq4Weights(w + 8 + 16 * g, grid, out var x0, out var x1);
                AdvSimd.Store(q + 32 * g, x0);
                AdvSimd.Store(q + 32 * g + 16, x1);
            }
            float dw = half[*(ushort*)w];
            byte* at = a;
            for (int t = 0; t < tokens; t++, at += stride)
            {
                sbyte* q8 = (sbyte*)(at + 4);
                var sum0 = ScaledGroup32(Vector128<int>.Zero, AdvSimd.LoadVector128(q), AdvSimd.LoadVector128(q + 16), q8, slo, 0);
                var sum1 = ScaledGroup32(Vector128<int>.Zero, AdvSimd.LoadVector128(q + 32), AdvSimd.LoadVector128(q + 48), q8 + 32, slo, 1);
                sum0 = ScaledGroup32(sum0, AdvSimd.LoadVector128(q + 64), AdvSimd.LoadVector128(q + 80), q8 + 64, slo, 2);
                sum1 = ScaledGroup32(sum1, AdvSimd.LoadVector128(q + 96), AdvSimd.LoadVector128(q + 112), q8 + 96, slo, 3);
                sum0 = ScaledGroup32(sum0, AdvSimd.LoadVector128(q + 128), AdvSimd.LoadVector128(q + 144), q8 + 128, shi, 0);
                sum1 = ScaledGroup32(sum1, AdvSimd.LoadVector128(q + 160), AdvSimd.LoadVector128(q + 176), q8 + 160, shi, 1);
                sum0 = ScaledGroup32(sum0, AdvSimd.LoadVector128(q + 192), AdvSimd.LoadVector128(q + 208), q8 + 192, shi, 2);
                sum1 = ScaledGroup32(sum1, AdvSimd.LoadVector128(q + 224), AdvSimd.LoadVector128(q + 240), q8 + 224, shi, 3);
                acc[t] = Scaled(acc[t], AdvSimd.Add(sum0, sum1), dw * *(float*)at);
            }
        }
        for (int t = 0; t < tokens; t++) y[t] = Vector128.Sum(acc[t]);
    }
}
