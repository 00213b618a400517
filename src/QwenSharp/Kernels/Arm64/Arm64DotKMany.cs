using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels.Arm64;

// K-quants · several tokens (prefill, batched decode): each super-block is unpacked once into a KBlock on the stack
// (unsigned quants, scales in both widths, the offset coefficient per 16 values, the two fp32 factors), then every
// token of the tile meets it from L1, by the same group dots as the one-token kernels.
#pragma warning disable CA1857 // constant lane indexes once inlined (see Arm64DotK.cs)
internal static unsafe partial class Arm64Dot
{
    private struct KBlock
    {
        public fixed byte Q[256];
        /// <summary>Scale per group: 8 groups of 32 (Q4_K, Q5_K) or 16 groups of 16 (Q6_K).</summary>
        public fixed short S16[16];
        public fixed int S32[16];
        /// <summary>Offset coefficient per 16 values, against the bsums: Q4_K/Q5_K's mins (each twice), Q6_K's 32·scale.</summary>
        public fixed short C[16];
        /// <summary>y += y.d·(D·Σ scale·q·a − F·Σ C·bsum).</summary>
        public float D;
        public float F;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UnpackQ45K(byte* w, bool five, KBlock* k)
    {
        k->D = FloatFormats.HalfTable[*(ushort*)w];
        k->F = FloatFormats.HalfTable[*(ushort*)(w + 2)];
        ScaleMinWords(w + 4, out ulong sc, out ulong mn);
        var s16 = Widen8(sc);
        AdvSimd.Store(k->S16, s16);
        AdvSimd.Store(k->S32, AdvSimd.SignExtendWideningLower(s16.GetLower()));
        AdvSimd.Store(k->S32 + 4, AdvSimd.SignExtendWideningUpper(s16));
        var m16 = Widen8(mn);
        AdvSimd.Store(k->C, AdvSimd.Arm64.ZipLow(m16, m16));
        AdvSimd.Store(k->C + 8, AdvSimd.Arm64.ZipHigh(m16, m16));
        byte* qs = w + (five ? 48 : 16);
        Vector128<byte> h0 = default, h1 = default;
        if (five)
        {
            h0 = AdvSimd.LoadVector128(w + 16);
            h1 = AdvSimd.LoadVector128(w + 32);
        }
        for (int c = 0; c < 4; c++)
        {
            KChunk(qs + 32 * c, five, h0, h1, out var q0, out var q1, out var q2, out var q3);
            sbyte* q = (sbyte*)k->Q + 64 * c;
            AdvSimd.Store(q, q0);
            AdvSimd.Store(q + 16, q1);
            AdvSimd.Store(q + 32, q2);
            AdvSimd.Store(q + 48, q3);
            if (five) { h0 = AdvSimd.ShiftRightLogical(h0, 2); h1 = AdvSimd.ShiftRightLogical(h1, 2); }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UnpackQ6K(byte* w, KBlock* k)
    {
        var x = (BlockQ6_K*)w;
        k->D = FloatFormats.HalfTable[x->D];
        k->F = k->D;
        Q6KScales((sbyte*)&x->Scales, out var s16a, out var s16b, out var s32a, out var s32b, out var s32c, out var s32d);
        AdvSimd.Store(k->S16, s16a);
        AdvSimd.Store(k->S16 + 8, s16b);
        AdvSimd.Store(k->S32, s32a);
        AdvSimd.Store(k->S32 + 4, s32b);
        AdvSimd.Store(k->S32 + 8, s32c);
        AdvSimd.Store(k->S32 + 12, s32d);
        AdvSimd.Store(k->C, AdvSimd.ShiftLeftLogical(s16a, 5));
        AdvSimd.Store(k->C + 8, AdvSimd.ShiftLeftLogical(s16b, 5));
        byte* ql = (byte*)&x->Ql;
        byte* qh = (byte*)&x->Qh;
        for (int half = 0; half < 2; half++, ql += 64, qh += 32)
        {
            var l0 = AdvSimd.LoadVector128(ql); var l1 = AdvSimd.LoadVector128(ql + 16);
            var l2 = AdvSimd.LoadVector128(ql + 32); var l3 = AdvSimd.LoadVector128(ql + 48);
            var h0 = AdvSimd.LoadVector128(qh); var h1 = AdvSimd.LoadVector128(qh + 16);
            sbyte* q = (sbyte*)k->Q + 128 * half;
            Q6KQuarter(false, l0, l1, l2, l3, h0, h1, out var q0, out var q1, out var q2, out var q3);
            AdvSimd.Store(q, q0); AdvSimd.Store(q + 16, q1); AdvSimd.Store(q + 32, q2); AdvSimd.Store(q + 48, q3);
            Q6KQuarter(true, l0, l1, l2, l3, h0, h1, out q0, out q1, out q2, out q3);
            AdvSimd.Store(q + 64, q0); AdvSimd.Store(q + 80, q1); AdvSimd.Store(q + 96, q2); AdvSimd.Store(q + 112, q3);
        }
    }

    /// <summary>Σ scale·q·a over an unpacked super-block in groups of 32 (Q4_K, Q5_K).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Sum32(KBlock* k, sbyte* q8, Vector128<int> s32lo, Vector128<int> s32hi, Vector128<short> s16)
    {
        sbyte* q = (sbyte*)k->Q;
        var sumi = Vector128<int>.Zero;
        sumi = Group32(sumi, AdvSimd.LoadVector128(q), AdvSimd.LoadVector128(q + 16), AdvSimd.LoadVector128(q8), AdvSimd.LoadVector128(q8 + 16), s32lo, s16, 0);
        sumi = Group32(sumi, AdvSimd.LoadVector128(q + 32), AdvSimd.LoadVector128(q + 48), AdvSimd.LoadVector128(q8 + 32), AdvSimd.LoadVector128(q8 + 48), s32lo, s16, 1);
        sumi = Group32(sumi, AdvSimd.LoadVector128(q + 64), AdvSimd.LoadVector128(q + 80), AdvSimd.LoadVector128(q8 + 64), AdvSimd.LoadVector128(q8 + 80), s32lo, s16, 2);
        sumi = Group32(sumi, AdvSimd.LoadVector128(q + 96), AdvSimd.LoadVector128(q + 112), AdvSimd.LoadVector128(q8 + 96), AdvSimd.LoadVector128(q8 + 112), s32lo, s16, 3);
        sumi = Group32(sumi, AdvSimd.LoadVector128(q + 128), AdvSimd.LoadVector128(q + 144), AdvSimd.LoadVector128(q8 + 128), AdvSimd.LoadVector128(q8 + 144), s32hi, s16, 4);
        sumi = Group32(sumi, AdvSimd.LoadVector128(q + 160), AdvSimd.LoadVector128(q + 176), AdvSimd.LoadVector128(q8 + 160), AdvSimd.LoadVector128(q8 + 176), s32hi, s16, 5);
        sumi = Group32(sumi, AdvSimd.LoadVector128(q + 192), AdvSimd.LoadVector128(q + 208), AdvSimd.LoadVector128(q8 + 192), AdvSimd.LoadVector128(q8 + 208), s32hi, s16, 6);
        return Group32(sumi, AdvSimd.LoadVector128(q + 224), AdvSimd.LoadVector128(q + 240), AdvSimd.LoadVector128(q8 + 224), AdvSimd.LoadVector128(q8 + 240), s32hi, s16, 7);
    }

    /// <summary>Σ scale·q·a over an unpacked super-block in groups of 16 (Q6_K).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Sum16(KBlock* k, sbyte* q8)
    {
        sbyte* q = (sbyte*)k->Q;
        var s16a = AdvSimd.LoadVector128(k->S16);
        var s16b = AdvSimd.LoadVector128(k->S16 + 8);
        var sumi = Q6KQuarterDot(Vector128<int>.Zero, AdvSimd.LoadVector128(q), AdvSimd.LoadVector128(q + 16),
            AdvSimd.LoadVector128(q + 32), AdvSimd.LoadVector128(q + 48), q8, AdvSimd.LoadVector128(k->S32), s16a, 0);
        sumi = Q6KQuarterDot(sumi, AdvSimd.LoadVector128(q + 64), AdvSimd.LoadVector128(q + 80),
            AdvSimd.LoadVector128(q + 96), AdvSimd.LoadVector128(q + 112), q8 + 64, AdvSimd.LoadVector128(k->S32 + 4), s16a, 4);
        sumi = Q6KQuarterDot(sumi, AdvSimd.LoadVector128(q + 128), AdvSimd.LoadVector128(q + 144),
            AdvSimd.LoadVector128(q + 160), AdvSimd.LoadVector128(q + 176), q8 + 128, AdvSimd.LoadVector128(k->S32 + 8), s16b, 0);
        return Q6KQuarterDot(sumi, AdvSimd.LoadVector128(q + 192), AdvSimd.LoadVector128(q + 208),
            AdvSimd.LoadVector128(q + 224), AdvSimd.LoadVector128(q + 240), q8 + 192, AdvSimd.LoadVector128(k->S32 + 12), s16b, 4);
    }

    /// <summary>A K-quant format for <see cref="KMany{T}"/>: its block size, group width and unpacking.</summary>
    private interface IKFormat
    {
        static abstract int Bytes { get; }
        /// <summary>Scales per 16 values (Q6_K) rather than per 32.</summary>
        static abstract bool Sixteen { get; }
        static abstract void Unpack(byte* w, KBlock* k);
    }

    private struct Q4KFormat : IKFormat
    {
        public static int Bytes => 144;
        public static bool Sixteen => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Unpack(byte* w, KBlock* k) => UnpackQ45K(w, five: false, k);
    }

    private struct Q5KFormat : IKFormat
    {
        public static int Bytes => 176;
        public static bool Sixteen => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Unpack(byte* w, KBlock* k) => UnpackQ45K(w, five: true, k);
    }

    private struct Q6KFormat : IKFormat
    {
        public static int Bytes => 210;
        public static bool Sixteen => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Unpack(byte* w, KBlock* k) => UnpackQ6K(w, k);
    }

    /// <summary>One K-quant row · several tokens (the format a type parameter: one compiled loop per format).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KMany<T>(byte* w, byte* a, long stride, int n, int tokens, float* y) where T : struct, IKFormat
    {
        KBlock k;
        var acc = stackalloc Vector128<float>[DotFast.MaxTokens];
        for (int t = 0; t < tokens; t++) acc[t] = Vector128<float>.Zero;
        for (int b = 0; b < n / 256; b++, w += T.Bytes, a += sizeof(BlockQ8_K))
        {
            T.Unpack(w, &k);
            var s32lo = AdvSimd.LoadVector128(k.S32);
            var s32hi = AdvSimd.LoadVector128(k.S32 + 4);
            var s16 = AdvSimd.LoadVector128(k.S16);
            var c0 = AdvSimd.LoadVector128(k.C);
            var c1 = AdvSimd.LoadVector128(k.C + 8);
            byte* at = a;
            for (int t = 0; t < tokens; t++, at += stride)
            {
                var yb = (BlockQ8_K*)at;
                sbyte* q8 = (sbyte*)&yb->Qs;
                short* bsums = (short*)&yb->BSums;
                var sumi = T.Sixteen ? Sum16(&k, q8) : Sum32(&k, q8, s32lo, s32hi, s16);
                var offset = Dot16x16(c0, c1, AdvSimd.LoadVector128(bsums), AdvSimd.LoadVector128(bsums + 8));
                acc[t] = Scaled(acc[t], sumi, k.D * yb->D);
                acc[t] = Scaled(acc[t], offset, -k.F * yb->D);
            }
        }
        for (int t = 0; t < tokens; t++) y[t] = Vector128.Sum(acc[t]);
    }

    private static void Q4_KMany(byte* w, byte* a, long stride, int n, int tokens, float* y) => KMany<Q4KFormat>(w, a, stride, n, tokens, y);
    private static void Q5_KMany(byte* w, byte* a, long stride, int n, int tokens, float* y) => KMany<Q5KFormat>(w, a, stride, n, tokens, y);
    private static void Q6_KMany(byte* w, byte* a, long stride, int n, int tokens, float* y) => KMany<Q6KFormat>(w, a, stride, n, tokens, y);
}
