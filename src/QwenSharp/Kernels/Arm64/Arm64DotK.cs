using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels.Arm64;

// K-quants · Q8_K. The quants stay unsigned (Q4_K 0..15, Q5_K 0..31, Q6_K 0..63) and the offsets come from Q8_K's
// bsums (sums of 16 activations), as in ggml's kernels and DotFastK:
//   Q4_K, Q5_K: value = d·sc·q − dmin·m  → subtract dmin·y.d·Σ_j m_j·(bsum_2j + bsum_2j+1);
//   Q6_K:       value = d·sc·(q − 32)   → subtract 32·Σ_g sc_g·bsum_g from the integer sum.
// Each group's integer dot (32 values for Q4_K/Q5_K, 16 for Q6_K) is multiplied by its scale in the vector, by lane
// (mla by element with sdot; smlal/smlal2 by element from int16 sums without), so a super-block ends as one int32
// vector: one conversion and one fmla by d·y.d, no horizontal sum until the row's end. ggml's NEON kernels reduce
// every group across lanes (addv) and multiply in scalar registers instead.
// The by-lane intrinsics need constant lane indexes: every call site below passes literals, and the helpers are
// inlined, so the JIT sees constants (2·k, g & 3, ...) that the analyzer cannot.
#pragma warning disable CA1857
internal static unsafe partial class Arm64Dot
{
    /// <summary>Q4_K/Q5_K's 8 scales (low 8 bytes) and 8 mins (high 8 bytes) from the 12 packed bytes
    /// (ggml's get_scale_min_k4, four at a time).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ScaleMinWords(byte* packed, out ulong scales8, out ulong mins8)
    {
        const uint kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
        uint u0 = Unsafe.ReadUnaligned<uint>(packed), u1 = Unsafe.ReadUnaligned<uint>(packed + 4), u2 = Unsafe.ReadUnaligned<uint>(packed + 8);
        scales8 = (u0 & kmask1) | ((ulong)((u2 & kmask2) | (((u0 >> 6) & kmask3) << 4)) << 32);
        mins8 = (u1 & kmask1) | ((ulong)(((u2 >> 4) & kmask2) | (((u1 >> 6) & kmask3) << 4)) << 32);
    }

    /// <summary>Eight unsigned bytes as int16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<short> Widen8(ulong bytes8) =>
        AdvSimd.ZeroExtendWideningLower(Vector64.CreateScalar(bytes8).AsByte()).AsInt16();

    /// <summary>Σ over 16 lanes of c·b (two int16 vectors each) into 4 int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Dot16x16(Vector128<short> c0, Vector128<short> c1, Vector128<short> b0, Vector128<short> b1)
    {
        var p = AdvSimd.MultiplyWideningUpper(c0, b0);
        p = AdvSimd.MultiplyWideningLowerAndAdd(p, c0.GetLower(), b0.GetLower());
        p = AdvSimd.MultiplyWideningUpperAndAdd(p, c1, b1);
        return AdvSimd.MultiplyWideningLowerAndAdd(p, c1.GetLower(), b1.GetLower());
    }

    /// <summary>sumi + scale_g·Σ x·y over one group of 32 (x0·y0 + x1·y1; |x| ≤ 31). The scales are in
    /// <paramref name="s32"/> lanes (g mod 4, sdot) or <paramref name="s16"/> lanes (g, int16 path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Group32(Vector128<int> sumi, Vector128<sbyte> x0, Vector128<sbyte> x1, Vector128<sbyte> y0, Vector128<sbyte> y1,
        Vector128<int> s32, Vector128<short> s16, [ConstantExpected(Max = (byte)7)] byte g)
    {
        if (KernelTiers.DotProd)
            return AdvSimd.MultiplyAddBySelectedScalar(sumi, Dp.DotProduct(Dp.DotProduct(Vector128<int>.Zero, x0, y0), x1, y1), s32, (byte)(g & 3));
        var p = Products32(x0, x1, y0, y1);
        sumi = AdvSimd.MultiplyBySelectedScalarWideningUpperAndAdd(sumi, p, s16, g);
        return AdvSimd.MultiplyBySelectedScalarWideningLowerAndAdd(sumi, p.GetLower(), s16, g);
    }

    /// <summary>sumi + scale_g·Σ x·y over one group of 16 (|x| ≤ 63: two products per int16 lane fit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Group16(Vector128<int> sumi, Vector128<sbyte> x, Vector128<sbyte> y,
        Vector128<int> s32, Vector128<short> s16, [ConstantExpected(Max = (byte)7)] byte g)
    {
        if (KernelTiers.DotProd)
            return AdvSimd.MultiplyAddBySelectedScalar(sumi, Dp.DotProduct(Vector128<int>.Zero, x, y), s32, (byte)(g & 3));
        var p = AdvSimd.MultiplyWideningLowerAndAdd(AdvSimd.MultiplyWideningUpper(x, y), x.GetLower(), y.GetLower());
        sumi = AdvSimd.MultiplyBySelectedScalarWideningUpperAndAdd(sumi, p, s16, g);
        return AdvSimd.MultiplyBySelectedScalarWideningLowerAndAdd(sumi, p.GetLower(), s16, g);
    }

    /// <summary>Values 64k..64k+63 of a Q4_K/Q5_K block as four vectors of 16 (+0, +16 from low nibbles; +32, +48 from
    /// high nibbles). Q5_K: <paramref name="h0"/>, <paramref name="h1"/> are qh[0..15], qh[16..31] shifted right by 2k,
    /// whose bit 0 (low nibbles) and bit 1 (high nibbles) are the fifth bits: sli puts h·16 over the low nibble and sri
    /// the high nibble under h·8, then 0x1F keeps the five bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void KChunk(byte* qs, bool five, Vector128<byte> h0, Vector128<byte> h1,
        out Vector128<sbyte> q0, out Vector128<sbyte> q1, out Vector128<sbyte> q2, out Vector128<sbyte> q3)
    {
        var v0 = AdvSimd.LoadVector128(qs);
        var v1 = AdvSimd.LoadVector128(qs + 16);
        if (!five)
        {
            var m4 = Vector128.Create((byte)0x0F);
            q0 = AdvSimd.And(v0, m4).AsSByte();
            q1 = AdvSimd.And(v1, m4).AsSByte();
            q2 = AdvSimd.ShiftRightLogical(v0, 4).AsSByte();
            q3 = AdvSimd.ShiftRightLogical(v1, 4).AsSByte();
            return;
        }
        var m5 = Vector128.Create((byte)0x1F);
        q0 = AdvSimd.And(AdvSimd.ShiftLeftAndInsert(v0, h0, 4), m5).AsSByte();
        q1 = AdvSimd.And(AdvSimd.ShiftLeftAndInsert(v1, h1, 4), m5).AsSByte();
        q2 = AdvSimd.And(AdvSimd.ShiftRightAndInsert(AdvSimd.ShiftLeftLogical(h0, 3), v0, 4), m5).AsSByte();
        q3 = AdvSimd.And(AdvSimd.ShiftRightAndInsert(AdvSimd.ShiftLeftLogical(h1, 3), v1, 4), m5).AsSByte();
    }

    /// <summary>Values 128n..128n+63 (<paramref name="high"/> false) or 128n+64..128n+127 of a Q6_K block, from its
    /// 64 ql bytes (l0..l3) and 32 qh bytes (h0, h1) of half n: low nibbles take qh bits 0-1 / 2-3 by sli, high nibbles
    /// bits 4-5 / 6-7 by sri, 0x3F keeps the six bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KQuarter(bool high, Vector128<byte> l0, Vector128<byte> l1, Vector128<byte> l2, Vector128<byte> l3,
        Vector128<byte> h0, Vector128<byte> h1,
        out Vector128<sbyte> q0, out Vector128<sbyte> q1, out Vector128<sbyte> q2, out Vector128<sbyte> q3)
    {
        var m6 = Vector128.Create((byte)0x3F);
        var h0s = AdvSimd.ShiftRightLogical(h0, 2);
        var h1s = AdvSimd.ShiftRightLogical(h1, 2);
        if (!high)
        {
            q0 = AdvSimd.And(AdvSimd.ShiftLeftAndInsert(l0, h0, 4), m6).AsSByte();
            q1 = AdvSimd.And(AdvSimd.ShiftLeftAndInsert(l1, h1, 4), m6).AsSByte();
            q2 = AdvSimd.And(AdvSimd.ShiftLeftAndInsert(l2, h0s, 4), m6).AsSByte();
            q3 = AdvSimd.And(AdvSimd.ShiftLeftAndInsert(l3, h1s, 4), m6).AsSByte();
            return;
        }
        q0 = AdvSimd.And(AdvSimd.ShiftRightAndInsert(h0, l0, 4), m6).AsSByte();
        q1 = AdvSimd.And(AdvSimd.ShiftRightAndInsert(h1, l1, 4), m6).AsSByte();
        q2 = AdvSimd.And(AdvSimd.ShiftRightAndInsert(h0s, l2, 4), m6).AsSByte();
        q3 = AdvSimd.And(AdvSimd.ShiftRightAndInsert(h1s, l3, 4), m6).AsSByte();
    }

    /// <summary>sumi over values 64k..64k+63 of a Q4_K/Q5_K block against q8[64k..]: groups 2k and 2k+1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> KChunkDot(Vector128<int> sumi, byte* qs, sbyte* q8, bool five, Vector128<byte> h0, Vector128<byte> h1,
        Vector128<int> s32, Vector128<short> s16, [ConstantExpected(Max = (byte)3)] byte k)
    {
        KChunk(qs, five, h0, h1, out var q0, out var q1, out var q2, out var q3);
        sumi = Group32(sumi, q0, q1, AdvSimd.LoadVector128(q8), AdvSimd.LoadVector128(q8 + 16), s32, s16, (byte)(2 * k));
        return Group32(sumi, q2, q3, AdvSimd.LoadVector128(q8 + 32), AdvSimd.LoadVector128(q8 + 48), s32, s16, (byte)(2 * k + 1));
    }

    /// <summary>Q4_K (<paramref name="five"/> false) or Q5_K · Q8_K, one row · one token.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Q45KOne(byte* w, byte* a, int n, bool five)
    {
        float* half = FloatFormats.HalfTable;
        var acc = Vector128<float>.Zero;
        int blockBytes = five ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
        for (int b = 0; b < n / 256; b++, w += blockBytes, a += sizeof(BlockQ8_K))
        {
            var y = (BlockQ8_K*)a;
            ScaleMinWords(w + 4, out ulong sc, out ulong mn);
            var s16 = Widen8(sc);
            var s32lo = AdvSimd.SignExtendWideningLower(s16.GetLower());
            var s32hi = AdvSimd.SignExtendWideningUpper(s16);
            short* bsums = (short*)&y->BSums;
            var pairs = AdvSimd.Arm64.AddPairwise(AdvSimd.LoadVector128(bsums), AdvSimd.LoadVector128(bsums + 8));
            var m16 = Widen8(mn);
            var msum = AdvSimd.MultiplyWideningUpperAndAdd(AdvSimd.MultiplyWideningLower(pairs.GetLower(), m16.GetLower()), pairs, m16);

            byte* qs = w + (five ? 48 : 16);
            sbyte* q8 = (sbyte*)&y->Qs;
            Vector128<byte> h0 = default, h1 = default;
            if (five)
            {
                h0 = AdvSimd.LoadVector128(w + 16);
                h1 = AdvSimd.LoadVector128(w + 32);
            }
            var sumi = KChunkDot(Vector128<int>.Zero, qs, q8, five, h0, h1, s32lo, s16, 0);
            if (five) { h0 = AdvSimd.ShiftRightLogical(h0, 2); h1 = AdvSimd.ShiftRightLogical(h1, 2); }
            sumi = KChunkDot(sumi, qs + 32, q8 + 64, five, h0, h1, s32lo, s16, 1);
            if (five) { h0 = AdvSimd.ShiftRightLogical(h0, 2); h1 = AdvSimd.ShiftRightLogical(h1, 2); }
            sumi = KChunkDot(sumi, qs + 64, q8 + 128, five, h0, h1, s32hi, s16, 2);
            if (five) { h0 = AdvSimd.ShiftRightLogical(h0, 2); h1 = AdvSimd.ShiftRightLogical(h1, 2); }
            sumi = KChunkDot(sumi, qs + 96, q8 + 192, five, h0, h1, s32hi, s16, 3);

            acc = Scaled(acc, sumi, half[*(ushort*)w] * y->D);
            acc = Scaled(acc, msum, -half[*(ushort*)(w + 2)] * y->D);
        }
        return Vector128.Sum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4_KOne(byte* w, byte* a, int n) => Q45KOne(w, a, n, five: false);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q5_KOne(byte* w, byte* a, int n) => Q45KOne(w, a, n, five: true);

    /// <summary>Q6_K's 16 int8 scales as int16 (two vectors) and int32 (four vectors).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KScales(sbyte* sc, out Vector128<short> s16a, out Vector128<short> s16b,
        out Vector128<int> s32a, out Vector128<int> s32b, out Vector128<int> s32c, out Vector128<int> s32d) =>
        Scales16(AdvSimd.LoadVector128(sc), out s16a, out s16b, out s32a, out s32b, out s32c, out s32d);

    /// <summary>sumi over one quarter (64 values, groups g0..g0+3) of a Q6_K block against q8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Q6KQuarterDot(Vector128<int> sumi, Vector128<sbyte> q0, Vector128<sbyte> q1, Vector128<sbyte> q2, Vector128<sbyte> q3,
        sbyte* q8, Vector128<int> s32, Vector128<short> s16, [ConstantExpected(Max = (byte)4)] byte g0)
    {
        sumi = Group16(sumi, q0, AdvSimd.LoadVector128(q8), s32, s16, g0);
        sumi = Group16(sumi, q1, AdvSimd.LoadVector128(q8 + 16), s32, s16, (byte)(g0 + 1));
        sumi = Group16(sumi, q2, AdvSimd.LoadVector128(q8 + 32), s32, s16, (byte)(g0 + 2));
        return Group16(sumi, q3, AdvSimd.LoadVector128(q8 + 48), s32, s16, (byte)(g0 + 3));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q6_KOne(byte* w, byte* a, int n)
    {
        float* half = FloatFormats.HalfTable;
        var acc = Vector128<float>.Zero;
        for (int b = 0; b < n / 256; b++, w += sizeof(BlockQ6_K), a += sizeof(BlockQ8_K))
        {
            var x = (BlockQ6_K*)w;
            var y = (BlockQ8_K*)a;
            Q6KScales((sbyte*)&x->Scales, out var s16a, out var s16b, out var s32a, out var s32b, out var s32c, out var s32d);
            short* bsums = (short*)&y->BSums;
            var offset = Dot16x16(s16a, s16b, AdvSimd.LoadVector128(bsums), AdvSimd.LoadVector128(bsums + 8));
            var sumi = AdvSimd.Negate(AdvSimd.ShiftLeftLogical(offset.AsUInt32(), 5).AsInt32());
            byte* ql = (byte*)&x->Ql;
            byte* qh = (byte*)&x->Qh;
            sbyte* q8 = (sbyte*)&y->Qs;
            // Half 0 (groups 0..7), then half 1 (groups 8..15).
            var l0 = AdvSimd.LoadVector128(ql); var l1 = AdvSimd.LoadVector128(ql + 16);
            var l2 = AdvSimd.LoadVector128(ql + 32); var l3 = AdvSimd.LoadVector128(ql + 48);
            var h0 = AdvSimd.LoadVector128(qh); var h1 = AdvSimd.LoadVector128(qh + 16);
            Q6KQuarter(false, l0, l1, l2, l3, h0, h1, out var q0, out var q1, out var q2, out var q3);
            sumi = Q6KQuarterDot(sumi, q0, q1, q2, q3, q8, s32a, s16a, 0);
            Q6KQuarter(true, l0, l1, l2, l3, h0, h1, out q0, out q1, out q2, out q3);
            sumi = Q6KQuarterDot(sumi, q0, q1, q2, q3, q8 + 64, s32b, s16a, 4);
            l0 = AdvSimd.LoadVector128(ql + 64); l1 = AdvSimd.LoadVector128(ql + 80);
            l2 = AdvSimd.LoadVector128(ql + 96); l3 = AdvSimd.LoadVector128(ql + 112);
            h0 = AdvSimd.LoadVector128(qh + 32); h1 = AdvSimd.LoadVector128(qh + 48);
            Q6KQuarter(false, l0, l1, l2, l3, h0, h1, out q0, out q1, out q2, out q3);
            sumi = Q6KQuarterDot(sumi, q0, q1, q2, q3, q8 + 128, s32c, s16b, 0);
            Q6KQuarter(true, l0, l1, l2, l3, h0, h1, out q0, out q1, out q2, out q3);
            sumi = Q6KQuarterDot(sumi, q0, q1, q2, q3, q8 + 192, s32d, s16b, 4);
            acc = Scaled(acc, sumi, half[x->D] * y->D);
        }
        return Vector128.Sum(acc);
    }
}
