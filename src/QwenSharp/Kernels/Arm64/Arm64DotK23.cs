using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels.Arm64;

// Q2_K and Q3_K · Q8_K, in the shape of Q6_K (Arm64DotK.cs): sixteen groups of 16, each group's integer dot multiplied
// by its scale in the vector (mla by lane after sdot; smlal/smlal2 by lane from int16 sums without), one int32 vector
// per super-block, one fmla by d·y.d; the quants stay unsigned and the offsets come from Q8_K's bsums (DotFastK23.cs
// on x86, ggml_vec_dot_q2_K_q8_K / _q3_K_q8_K):
//   Q2_K: value = d·(sc & 15)·q − dmin·(sc >> 4), q in 0..3 → subtract dmin·y.d·Σ_g (sc_g >> 4)·bsum_g;
//   Q3_K: value = d·(s − 32)·(q3 − 4), q3 = two low bits | hmask bit·4 in 0..7 (ggml stores the third bit set where
//         the value is not lowered by 4) → subtract 4·Σ_g (s_g − 32)·bsum_g from the integer sum.
// Value order (dequantize_row_q2_K/_q3_K): per 128 values, the 32 bytes of qs shifted right by 0, 2, 4, 6 give values
// 32j..32j+31, bytes 0..15 one group and 16..31 the next; Q3_K's hmask bit c (c = 4·half + j) is the third bit of
// chunk c, byte for byte. Several tokens: KMany (Arm64DotKMany.cs) with the super-block unpacked once into a KBlock.
#pragma warning disable CA1857 // constant lane indexes once inlined (see Arm64DotK.cs)
internal static unsafe partial class Arm64Dot
{
    /// <summary>Sixteen int8 scales as int16 (two vectors) and int32 (four vectors), like Q6_K's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scales16(Vector128<sbyte> s, out Vector128<short> s16a, out Vector128<short> s16b,
        out Vector128<int> s32a, out Vector128<int> s32b, out Vector128<int> s32c, out Vector128<int> s32d)
    {
        s16a = AdvSimd.SignExtendWideningLower(s.GetLower());
        s16b = AdvSimd.SignExtendWideningUpper(s);
        s32a = AdvSimd.SignExtendWideningLower(s16a.GetLower());
        s32b = AdvSimd.SignExtendWideningUpper(s16a);
        s32c = AdvSimd.SignExtendWideningLower(s16b.GetLower());
        s32d = AdvSimd.SignExtendWideningUpper(s16b);
    }

    /// <summary>Q2_K's chunk j (values 32j..32j+31 of a half) from the half's 32 qs bytes <paramref name="v0"/>,
    /// <paramref name="v1"/>: the two bits at 2j.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q2KChunk(Vector128<byte> v0, Vector128<byte> v1, int j, out Vector128<sbyte> q0, out Vector128<sbyte> q1)
    {
        var m3 = Vector128.Create((byte)3);
        if (j == 0) { q0 = AdvSimd.And(v0, m3).AsSByte(); q1 = AdvSimd.And(v1, m3).AsSByte(); }
        else if (j == 3) { q0 = AdvSimd.ShiftRightLogical(v0, 6).AsSByte(); q1 = AdvSimd.ShiftRightLogical(v1, 6).AsSByte(); }
        else
        {
            q0 = AdvSimd.And(AdvSimd.ShiftRightLogical(v0, (byte)(2 * j)), m3).AsSByte();
            q1 = AdvSimd.And(AdvSimd.ShiftRightLogical(v1, (byte)(2 * j)), m3).AsSByte();
        }
    }

    /// <summary>Q3_K's chunk j of a half: q3 = the two bits at 2j of qs | bit 0 of <paramref name="h0"/>,
    /// <paramref name="h1"/> (hmask already shifted right by c) · 4, by sli and a mask of 7.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q3KChunk(Vector128<byte> v0, Vector128<byte> v1, Vector128<byte> h0, Vector128<byte> h1, int j,
        out Vector128<sbyte> q0, out Vector128<sbyte> q1)
    {
        var m7 = Vector128.Create((byte)7);
        if (j > 0)
        {
            v0 = AdvSimd.ShiftRightLogical(v0, (byte)(2 * j));
            v1 = AdvSimd.ShiftRightLogical(v1, (byte)(2 * j));
        }
        q0 = AdvSimd.And(AdvSimd.ShiftLeftAndInsert(v0, h0, 2), m7).AsSByte();
        q1 = AdvSimd.And(AdvSimd.ShiftLeftAndInsert(v1, h1, 2), m7).AsSByte();
    }

    /// <summary>Q2_K's 16 scales (low nibbles) and mins (high nibbles) as int8 vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q2KScaleMins(byte* packed, out Vector128<sbyte> scales, out Vector128<sbyte> mins)
    {
        Nibbles(packed, out var lo, out var hi);
        scales = lo.AsSByte();
        mins = hi.AsSByte();
    }

    /// <summary>Q3_K's 16 six-bit scales − 32 as int8 (KQuantScales.UnpackQ3K's shuffle in registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<sbyte> Q3KScales(byte* packed)
    {
        const uint kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
        uint a0 = Unsafe.ReadUnaligned<uint>(packed), a1 = Unsafe.ReadUnaligned<uint>(packed + 4), tmp = Unsafe.ReadUnaligned<uint>(packed + 8);
        var raw = Vector128.Create(
            (a0 & kmask2) | ((tmp & kmask1) << 4),
            (a1 & kmask2) | (((tmp >> 2) & kmask1) << 4),
            ((a0 >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4),
            ((a1 >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4));
        return AdvSimd.Subtract(raw.AsSByte(), Vector128.Create((sbyte)32));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q2_KOne(byte* w, byte* a, int n)
    {
        float* half = FloatFormats.HalfTable;
        var acc = Vector128<float>.Zero;
        for (int b = 0; b < n / 256; b++, w += sizeof(BlockQ2_K), a += sizeof(BlockQ8_K))
        {
            var x = (BlockQ2_K*)w;
            var y = (BlockQ8_K*)a;
            Q2KScaleMins((byte*)&x->Scales, out var sc, out var mn);
            Scales16(sc, out var s16a, out var s16b, out var s32a, out var s32b, out var s32c, out var s32d);
            short* bsums = (short*)&y->BSums;
            var offset = Dot16x16(AdvSimd.ZeroExtendWideningLower(mn.AsByte().GetLower()).AsInt16(), AdvSimd.ZeroExtendWideningUpper(mn.AsByte()).AsInt16(),
                AdvSimd.LoadVector128(bsums), AdvSimd.LoadVector128(bsums + 8));
            byte* qs = (byte*)&x->Qs;
            sbyte* q8 = (sbyte*)&y->Qs;
            var v0 = AdvSimd.LoadVector128(qs);
            var v1 = AdvSimd.LoadVector128(qs + 16);
            Q2KChunk(v0, v1, 0, out var q0, out var q1);
            Q2KChunk(v0, v1, 1, out var q2, out var q3);
            var sumi = Q6KQuarterDot(Vector128<int>.Zero, q0, q1, q2, q3, q8, s32a, s16a, 0);
            Q2KChunk(v0, v1, 2, out q0, out q1);
            Q2KChunk(v0, v1, 3, out q2, out q3);
            sumi = Q6KQuarterDot(sumi, q0, q1, q2, q3, q8 + 64, s32b, s16a, 4);
            v0 = AdvSimd.LoadVector128(qs + 32);
            v1 = AdvSimd.LoadVector128(qs + 48);
            Q2KChunk(v0, v1, 0, out q0, out q1);
            Q2KChunk(v0, v1, 1, out q2, out q3);
            sumi = Q6KQuarterDot(sumi, q0, q1, q2, q3, q8 + 128, s32c, s16b, 0);
            Q2KChunk(v0, v1, 2, out q0, out q1);
            Q2KChunk(v0, v1, 3, out q2, out q3);
            sumi = Q6KQuarterDot(sumi, q0, q1, q2, q3, q8 + 192, s32d, s16b, 4);
            acc = Scaled(acc, sumi, half[x->D] * y->D);
            acc = Scaled(acc, offset, -half[x->DMin] * y->D);
        }
        return Vector128.Sum(acc);
    }

    /// <summary>Q3_K's chunks j = 0..3 of one half, q3 in 0..7, into four vectors of 16 (q0..q3: chunks 2l, 2l + 1 for
    /// <paramref name="second"/> l = 0 or 1); hmask shifted on as it goes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q3KQuarter(Vector128<byte> v0, Vector128<byte> v1, ref Vector128<byte> h0, ref Vector128<byte> h1, bool second,
        out Vector128<sbyte> q0, out Vector128<sbyte> q1, out Vector128<sbyte> q2, out Vector128<sbyte> q3)
    {
        Q3KChunk(v0, v1, h0, h1, second ? 2 : 0, out q0, out q1);
        h0 = AdvSimd.ShiftRightLogical(h0, 1); h1 = AdvSimd.ShiftRightLogical(h1, 1);
        Q3KChunk(v0, v1, h0, h1, second ? 3 : 1, out q2, out q3);
        h0 = AdvSimd.ShiftRightLogical(h0, 1); h1 = AdvSimd.ShiftRightLogical(h1, 1);
    }

    /// <summary>sumi over one half (128 values, groups 8·half..) of a Q3_K block against q8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Q3KHalfDot(Vector128<int> sumi, byte* qs, sbyte* q8, ref Vector128<byte> h0, ref Vector128<byte> h1,
        Vector128<int> s32x, Vector128<int> s32y, Vector128<short> s16)
    {
        var v0 = AdvSimd.LoadVector128(qs);
        var v1 = AdvSimd.LoadVector128(qs + 16);
        Q3KQuarter(v0, v1, ref h0, ref h1, false, out var q0, out var q1, out var q2, out var q3);
        sumi = Q6KQuarterDot(sumi, q0, q1, q2, q3, q8, s32x, s16, 0);
        Q3KQuarter(v0, v1, ref h0, ref h1, true, out q0, out q1, out q2, out q3);
        return Q6KQuarterDot(sumi, q0, q1, q2, q3, q8 + 64, s32y, s16, 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q3_KOne(byte* w, byte* a, int n)
    {
        float* half = FloatFormats.HalfTable;
        var acc = Vector128<float>.Zero;
        for (int b = 0; b < n / 256; b++, w += sizeof(BlockQ3_K), a += sizeof(BlockQ8_K))
        {
            var x = (BlockQ3_K*)w;
            var y = (BlockQ8_K*)a;
            Scales16(Q3KScales((byte*)&x->Scales), out var s16a, out var s16b, out var s32a, out var s32b, out var s32c, out var s32d);
            short* bsums = (short*)&y->BSums;
            var offset = Dot16x16(s16a, s16b, AdvSimd.LoadVector128(bsums), AdvSimd.LoadVector128(bsums + 8));
            var sumi = AdvSimd.Negate(AdvSimd.ShiftLeftLogical(offset.AsUInt32(), 2).AsInt32());
            byte* qs = (byte*)&x->Qs;
            sbyte* q8 = (sbyte*)&y->Qs;
            var h0 = AdvSimd.LoadVector128((byte*)&x->HMask);
            var h1 = AdvSimd.LoadVector128((byte*)&x->HMask + 16);
            sumi = Q3KHalfDot(sumi, qs, q8, ref h0, ref h1, s32a, s32b, s16a);
            sumi = Q3KHalfDot(sumi, qs + 32, q8 + 128, ref h0, ref h1, s32c, s32d, s16b);
            acc = Scaled(acc, sumi, half[x->D] * y->D);
        }
        return Vector128.Sum(acc);
    }

    /// <summary>The scales of a sixteen-group K-quant into a KBlock: S16, S32, and C (the offset coefficients).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreScales16(KBlock* k, Vector128<sbyte> scales, Vector128<short> c0, Vector128<short> c1)
    {
        Scales16(scales, out var s16a, out var s16b, out var s32a, out var s32b, out var s32c, out var s32d);
        AdvSimd.Store(k->S16, s16a);
        AdvSimd.Store(k->S16 + 8, s16b);
        AdvSimd.Store(k->S32, s32a);
        AdvSimd.Store(k->S32 + 4, s32b);
        AdvSimd.Store(k->S32 + 8, s32c);
        AdvSimd.Store(k->S32 + 12, s32d);
        AdvSimd.Store(k->C, c0);
        AdvSimd.Store(k->C + 8, c1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UnpackQ2K(byte* w, KBlock* k)
    {
        var x = (BlockQ2_K*)w;
        k->D = FloatFormats.HalfTable[x->D];
        k->F = FloatFormats.HalfTable[x->DMin];
        Q2KScaleMins((byte*)&x->Scales, out var sc, out var mn);
        StoreScales16(k, sc, AdvSimd.ZeroExtendWideningLower(mn.AsByte().GetLower()).AsInt16(), AdvSimd.ZeroExtendWideningUpper(mn.AsByte()).AsInt16());
        byte* qs = (byte*)&x->Qs;
        for (int hf = 0; hf < 2; hf++)
        {
            var v0 = AdvSimd.LoadVector128(qs + 32 * hf);
            var v1 = AdvSimd.LoadVector128(qs + 32 * hf + 16);
            sbyte* q = (sbyte*)k->Q + 128 * hf;
            Q2KChunk(v0, v1, 0, out var q0, out var q1);
            AdvSimd.Store(q, q0); AdvSimd.Store(q + 16, q1);
            Q2KChunk(v0, v1, 1, out q0, out q1);
            AdvSimd.Store(q + 32, q0); AdvSimd.Store(q + 48, q1);
            Q2KChunk(v0, v1, 2, out q0, out q1);
            AdvSimd.Store(q + 64, q0); AdvSimd.Store(q + 80, q1);
            Q2KChunk(v0, v1, 3, out q0, out q1);
            AdvSimd.Store(q + 96, q0); AdvSimd.Store(q + 112, q1);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UnpackQ3K(byte* w, KBlock* k)
    {
        var x = (BlockQ3_K*)w;
        k->D = FloatFormats.HalfTable[x->D];
        k->F = k->D;
        var sc = Q3KScales((byte*)&x->Scales);
        var s16a = AdvSimd.SignExtendWideningLower(sc.GetLower());
        var s16b = AdvSimd.SignExtendWideningUpper(sc);
        StoreScales16(k, sc, AdvSimd.ShiftLeftLogical(s16a, 2), AdvSimd.ShiftLeftLogical(s16b, 2));
        byte* qs = (byte*)&x->Qs;
        var h0 = AdvSimd.LoadVector128((byte*)&x->HMask);
        var h1 = AdvSimd.LoadVector128((byte*)&x->HMask + 16);
        for (int hf = 0; hf < 2; hf++)
        {
            var v0 = AdvSimd.LoadVector128(qs + 32 * hf);
            var v1 = AdvSimd.LoadVector128(qs + 32 * hf + 16);
            sbyte* q = (sbyte*)k->Q + 128 * hf;
            Q3KQuarter(v0, v1, ref h0, ref h1, false, out var q0, out var q1, out var q2, out var q3);
            AdvSimd.Store(q, q0); AdvSimd.Store(q + 16, q1); AdvSimd.Store(q + 32, q2); AdvSimd.Store(q + 48, q3);
            Q3KQuarter(v0, v1, ref h0, ref h1, true, out q0, out q1, out q2, out q3);
            AdvSimd.Store(q + 64, q0); AdvSimd.Store(q + 80, q1); AdvSimd.Store(q + 96, q2); AdvSimd.Store(q + 112, q3);
        }
    }

    private struct Q2KFormat : IKFormat
    {
        public static int Bytes => 84;
        public static bool Sixteen => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Unpack(byte* w, KBlock* k) => UnpackQ2K(w, k);
    }

    private struct Q3KFormat : IKFormat
    {
        public static int Bytes => 110;
        public static bool Sixteen => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Unpack(byte* w, KBlock* k) => UnpackQ3K(w, k);
    }

    private static void Q2_KMany(byte* w, byte* a, long stride, int n, int tokens, float* y) => KMany<Q2KFormat>(w, a, stride, n, tokens, y);
    private static void Q3_KMany(byte* w, byte* a, long stride, int n, int tokens, float* y) => KMany<Q3KFormat>(w, a, stride, n, tokens, y);
}
