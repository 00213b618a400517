using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

// Q2_K and Q3_K · Q8_K, in the shape of DotFastK.cs: per 32 values vpmaddubsw (unsigned quant × int8 activation → int16
// pairs) then the int16 scale of each group of 16 by vpmaddwd (vpdpwssd with AVX-VNNI) into int32 lanes per
// super-block, one FMA by d·y.d, and the offsets through Q8_K's bsums (sums of 16 activations):
//   Q2_K: value = d·(sc & 15)·q − dmin·(sc >> 4), q in 0..3 → subtract dmin·y.d·Σ_g (sc_g >> 4)·bsum_g;
//   Q3_K: value = d·(s − 32)·(q3 − 4), q3 = two low bits | hmask bit · 4 in 0..7 (ggml stores the third bit set
//         where the value is not lowered by 4) → subtract d·y.d·4·Σ_g (s_g − 32)·bsum_g.
// Both quants stay far inside int16 pairs (2·7·128). Group order (dequantize_row_q2_K/_q3_K): per 128 values, the 32
// bytes of qs shifted right by 0, 2, 4, 6 give the values 32j..32j+31 in order; Q3_K's hmask bit c (c = 4·half + j)
// is the third bit of chunk c, byte for byte.
// One token: unpacked in registers. Several tokens: each super-block unpacked once into a KBlock (see KMany).
// Twins: DotPlain.KQuant, via FastKernelTwinTests.
internal static unsafe partial class DotFast
{
    /// <summary>Shuffle masks that spread int16 scales 2j (low 128-bit lane) and 2j + 1 (high lane) of eight scales held in
    /// both lanes over the 8 int16 lanes each: the per-group scale of chunk j of a 128-value half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> PairMask(int j) =>
        Vector256.Create(Vector128.Create((ushort)(0x0100 * (4 * j + 1) + 4 * j)).AsByte(),
            Vector128.Create((ushort)(0x0100 * (4 * j + 3) + 4 * j + 2)).AsByte());

    /// <summary>Σ scale·(q·a) into int32 lanes: vpmaddubsw, then vpdpwssd or vpmaddwd + vpaddd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> ScaledAdd(Vector256<int> sum, Vector256<byte> q, sbyte* a, Vector256<short> scale) =>
        DotS16(sum, Avx2.MultiplyAddAdjacent(q, Avx.LoadVector256(a)), scale);

    /// <summary>Sixteen int16 scales as two registers, eight (one 128-value half) in both 128-bit lanes of each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void HalvesInBothLanes(Vector256<short> scales16, out Vector256<byte> s0, out Vector256<byte> s1)
    {
        s0 = Avx2.Permute4x64(scales16.AsInt64(), 0x44).AsByte();
        s1 = Avx2.Permute4x64(scales16.AsInt64(), 0xEE).AsByte();
    }

    /// <summary>Q2_K's 128 values of one half (32 bytes of qs) against their activations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q2KHalf(Vector256<int> sumi, byte* qs, sbyte* q8, Vector256<byte> s, Vector256<byte> m3,
        Vector256<byte> k0, Vector256<byte> k1, Vector256<byte> k2, Vector256<byte> k3)
    {
        var v = Avx.LoadVector256(qs).AsUInt16();
        sumi = ScaledAdd(sumi, Avx2.And(v.AsByte(), m3), q8, Avx2.Shuffle(s, k0).AsInt16());
        sumi = ScaledAdd(sumi, Avx2.And(Avx2.ShiftRightLogical(v, 2).AsByte(), m3), q8 + 32, Avx2.Shuffle(s, k1).AsInt16());
        sumi = ScaledAdd(sumi, Avx2.And(Avx2.ShiftRightLogical(v, 4).AsByte(), m3), q8 + 64, Avx2.Shuffle(s, k2).AsInt16());
        return ScaledAdd(sumi, Avx2.And(Avx2.ShiftRightLogical(v, 6).AsByte(), m3), q8 + 96, Avx2.Shuffle(s, k3).AsInt16());
    }

    /// <summary>Q3_K's 128 values of one half (32 bytes of qs; hmask already shifted right by 4·half) against their
    /// activations; returns hmask shifted on by 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q3KHalf(Vector256<int> sumi, byte* qs, ref Vector256<ushort> hm, sbyte* q8, Vector256<byte> s,
        Vector256<byte> m3, Vector256<byte> m4bit, Vector256<byte> k0, Vector256<byte> k1, Vector256<byte> k2, Vector256<byte> k3)
    {
        var v = Avx.LoadVector256(qs).AsUInt16();
        var h = hm;
        sumi = ScaledAdd(sumi, Q3KQuants(v.AsByte(), h, m3, m4bit), q8, Avx2.Shuffle(s, k0).AsInt16());
        h = Avx2.ShiftRightLogical(h, 1);
        sumi = ScaledAdd(sumi, Q3KQuants(Avx2.ShiftRightLogical(v, 2).AsByte(), h, m3, m4bit), q8 + 32, Avx2.Shuffle(s, k1).AsInt16());
        h = Avx2.ShiftRightLogical(h, 1);
        sumi = ScaledAdd(sumi, Q3KQuants(Avx2.ShiftRightLogical(v, 4).AsByte(), h, m3, m4bit), q8 + 64, Avx2.Shuffle(s, k2).AsInt16());
        h = Avx2.ShiftRightLogical(h, 1);
        sumi = ScaledAdd(sumi, Q3KQuants(Avx2.ShiftRightLogical(v, 6).AsByte(), h, m3, m4bit), q8 + 96, Avx2.Shuffle(s, k3).AsInt16());
        hm = Avx2.ShiftRightLogical(h, 1);
        return sumi;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q2_KOne(byte* w, byte* a, int n)
    {
        float* half = FloatFormats.HalfTable; // read once, outside the loop (see Q4_0One)
        var acc = Vector256<float>.Zero;
        float off = 0;
        var m3 = Vector256.Create((byte)3);
        var m4 = Vector128.Create((byte)0x0F);
        Vector256<byte> k0 = PairMask(0), k1 = PairMask(1), k2 = PairMask(2), k3 = PairMask(3);
        for (int b = 0; b < n / 256; b++, w += sizeof(BlockQ2_K), a += sizeof(BlockQ8_K))
        {
            FetchAhead(w); FetchAhead(w + 64);
            var x = (BlockQ2_K*)w;
            var y = (BlockQ8_K*)a;
            var packed = Sse2.LoadVector128((byte*)&x->Scales);
            var scales16 = Avx2.ConvertToVector256Int16(Sse2.And(packed, m4));
            var mins16 = Avx2.ConvertToVector256Int16(Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & m4);
            byte* qs = (byte*)&x->Qs;
            sbyte* q8 = (sbyte*)&y->Qs;
            HalvesInBothLanes(scales16, out var s0, out var s1);
            var sumi = Q2KHalf(Vector256<int>.Zero, qs, q8, s0, m3, k0, k1, k2, k3);
            sumi = Q2KHalf(sumi, qs + 32, q8 + 128, s1, m3, k0, k1, k2, k3);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(half[x->D] * y->D), acc);
            off += half[x->DMin] * y->D * Vector256.Sum(Avx2.MultiplyAddAdjacent(mins16, Avx.LoadVector256((short*)&y->BSums)));
        }
        return Vector256.Sum(acc) - off;
    }

    /// <summary>Q3_K's 16 scales − 32 as int16: KQuantScales.UnpackQ3K's shuffle kept in registers (written to memory
    /// and read back as one vector, the four words would stall on store forwarding, see Q4KScaleWords).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Q3KScales(BlockQ3_K* x)
    {
        const uint kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
        byte* packed = (byte*)&x->Scales;
        uint a0 = Unsafe.ReadUnaligned<uint>(packed), a1 = Unsafe.ReadUnaligned<uint>(packed + 4), tmp = Unsafe.ReadUnaligned<uint>(packed + 8);
        var raw = Vector128.Create(
            (a0 & kmask2) | ((tmp & kmask1) << 4),
            (a1 & kmask2) | (((tmp >> 2) & kmask1) << 4),
            ((a0 >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4),
            ((a1 >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4));
        return Avx2.Subtract(Avx2.ConvertToVector256Int16(raw.AsByte()).AsInt16(), Vector256.Create((short)32));
    }

    /// <summary>Chunk <c>c</c>'s q3 (0..7) from its two low bits (<paramref name="low"/>, already shifted into place) and
    /// hmask shifted right by c: bit 0 of each byte moved to bit 2 (a 16-bit shift keeps it inside its byte).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Q3KQuants(Vector256<byte> low, Vector256<ushort> hm, Vector256<byte> m3, Vector256<byte> m4bit) =>
        Avx2.Or(Avx2.And(low, m3), Avx2.And(Avx2.ShiftLeftLogical(hm, 2).AsByte(), m4bit));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q3_KOne(byte* w, byte* a, int n)
    {
        float* half = FloatFormats.HalfTable;
        var acc = Vector256<float>.Zero;
        float off = 0;
        var m3 = Vector256.Create((byte)3);
        var m4bit = Vector256.Create((byte)4);
        Vector256<byte> k0 = PairMask(0), k1 = PairMask(1), k2 = PairMask(2), k3 = PairMask(3);
        for (int b = 0; b < n / 256; b++, w += sizeof(BlockQ3_K), a += sizeof(BlockQ8_K))
        {
            FetchAhead(w); FetchAhead(w + 64);
            var x = (BlockQ3_K*)w;
            var y = (BlockQ8_K*)a;
            var scales16 = Q3KScales(x);
            var hm = Avx.LoadVector256((byte*)&x->HMask).AsUInt16();
            byte* qs = (byte*)&x->Qs;
            sbyte* q8 = (sbyte*)&y->Qs;
            HalvesInBothLanes(scales16, out var s0, out var s1);
            var sumi = Q3KHalf(Vector256<int>.Zero, qs, ref hm, q8, s0, m3, m4bit, k0, k1, k2, k3);
            sumi = Q3KHalf(sumi, qs + 32, ref hm, q8 + 128, s1, m3, m4bit, k0, k1, k2, k3);
            float d = half[x->D] * y->D;
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(d), acc);
            off += d * 4 * Vector256.Sum(Avx2.MultiplyAddAdjacent(scales16, Avx.LoadVector256((short*)&y->BSums)));
        }
        return Vector256.Sum(acc) - off;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UnpackQ2K(byte* block, KBlock* k)
    {
        var x = (BlockQ2_K*)block;
        k->D = FloatFormats.HalfTable[x->D];
        k->F = FloatFormats.HalfTable[x->DMin];
        byte* sc = (byte*)&x->Scales;
        byte* qs = (byte*)&x->Qs;
        var m3 = Vector256.Create((byte)3);
        for (int h = 0; h < 2; h++)
        {
            var v = Avx.LoadVector256(qs + 32 * h).AsUInt16();
            byte* q = k->Q + 128 * h;
            Avx.Store(q, Avx2.And(v.AsByte(), m3));
            Avx.Store(q + 32, Avx2.And(Avx2.ShiftRightLogical(v, 2).AsByte(), m3));
            Avx.Store(q + 64, Avx2.And(Avx2.ShiftRightLogical(v, 4).AsByte(), m3));
            Avx.Store(q + 96, Avx2.And(Avx2.ShiftRightLogical(v, 6).AsByte(), m3));
        }
        for (int c = 0; c < 8; c++)
            Avx.Store(k->Scales + 16 * c, Vector256.Create(Vector128.Create((short)(sc[2 * c] & 0x0F)), Vector128.Create((short)(sc[2 * c + 1] & 0x0F))));
        for (int g = 0; g < 16; g++) k->C[g] = (short)(sc[g] >> 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UnpackQ3K(byte* block, KBlock* k)
    {
        var x = (BlockQ3_K*)block;
        k->D = FloatFormats.HalfTable[x->D];
        k->F = k->D;
        sbyte* sc = stackalloc sbyte[16];
        KQuantScales.UnpackQ3K((byte*)&x->Scales, sc);
        byte* qs = (byte*)&x->Qs;
        var hm = Avx.LoadVector256((byte*)&x->HMask).AsUInt16();
        var m3 = Vector256.Create((byte)3);
        var m4bit = Vector256.Create((byte)4);
        for (int h = 0; h < 2; h++)
        {
            var v = Avx.LoadVector256(qs + 32 * h).AsUInt16();
            byte* q = k->Q + 128 * h;
            Avx.Store(q, Q3KQuants(v.AsByte(), hm, m3, m4bit));
            hm = Avx2.ShiftRightLogical(hm, 1);
            Avx.Store(q + 32, Q3KQuants(Avx2.ShiftRightLogical(v, 2).AsByte(), hm, m3, m4bit));
            hm = Avx2.ShiftRightLogical(hm, 1);
            Avx.Store(q + 64, Q3KQuants(Avx2.ShiftRightLogical(v, 4).AsByte(), hm, m3, m4bit));
            hm = Avx2.ShiftRightLogical(hm, 1);
            Avx.Store(q + 96, Q3KQuants(Avx2.ShiftRightLogical(v, 6).AsByte(), hm, m3, m4bit));
            hm = Avx2.ShiftRightLogical(hm, 1);
        }
        for (int c = 0; c < 8; c++)
            Avx.Store(k->Scales + 16 * c, Vector256.Create(Vector128.Create((short)(sc[2 * c] - 32)), Vector128.Create((short)(sc[2 * c + 1] - 32))));
        for (int g = 0; g < 16; g++) k->C[g] = (short)(4 * (sc[g] - 32));
    }

    private static void Q2_KMany(byte* w, byte* a, long stride, int n, int tokens, float* y) =>
        KMany(&UnpackQ2K, sizeof(BlockQ2_K), w, a, stride, n, tokens, y);

    private static void Q3_KMany(byte* w, byte* a, long stride, int n, int tokens, float* y) =>
        KMany(&UnpackQ3K, sizeof(BlockQ3_K), w, a, stride, n, tokens, y);
}
