using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

// K-quants · Q8_K. A super-block is unpacked once into 256 unsigned quants, a scale per int32 lane (each lane of
// vpdpbusd covers 4 consecutive values, so a lane never straddles two scale groups) and an offset term
// f·Σ_g c_g·bsum_g, then reused for every token:
//   Q4_K: value = d·sc·q − dmin·m          → offset f = dmin, c_g = m of g's 32-group;
//   Q6_K: value = d·sc·(q − 32)            → offset f = d,    c_g = 32·sc_g (ggml's trick with bsums).
internal static unsafe partial class DotFast
{
    private struct KBlock
    {
        public fixed byte Q[256];
        public fixed int Lanes[64];   // 8 chunks of 32 values × 8 lanes
        public fixed int C[16];
        public float D;
        public float F;
    }

    private static void UnpackQ4K(byte* block, KBlock* k)
    {
        var b = (BlockQ4_K*)block;
        k->D = FloatFormats.HalfTable[b->D];
        k->F = FloatFormats.HalfTable[b->DMin];
        byte* packed = (byte*)&b->Scales;
        byte* qs = (byte*)&b->Qs;
        var m4 = Vector256.Create((byte)0x0F);
        for (int c = 0; c < 4; c++)
        {
            var v = Avx.LoadVector256(qs + 32 * c);
            Avx.Store(k->Q + 64 * c, Avx2.And(v, m4));
            Avx.Store(k->Q + 64 * c + 32, Avx2.And(Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), m4));
        }
        for (int j = 0; j < 8; j++)
        {
            KQuantScales.ScaleMinK4(j, packed, out int sc, out int m);
            Avx.Store(k->Lanes + 8 * j, Vector256.Create(sc));
            k->C[2 * j] = k->C[2 * j + 1] = m;
        }
    }

    private static void UnpackQ6K(byte* block, KBlock* k)
    {
        var b = (BlockQ6_K*)block;
        k->D = FloatFormats.HalfTable[b->D];
        k->F = k->D;
        sbyte* sc = (sbyte*)&b->Scales;
        var m4 = Vector256.Create((byte)0x0F);
        var m30 = Vector256.Create((byte)0x30);
        for (int n = 0; n < 2; n++)
        {
            byte* ql = (byte*)&b->Ql + 64 * n;
            var h = Avx.LoadVector256((byte*)&b->Qh + 32 * n).AsUInt16();
            var l0 = Avx.LoadVector256(ql);
            var l1 = Avx.LoadVector256(ql + 32);
            byte* q = k->Q + 128 * n;
            Avx.Store(q, Avx2.Or(Avx2.And(l0, m4), Avx2.And(Avx2.ShiftLeftLogical(h, 4).AsByte(), m30)));
            Avx.Store(q + 32, Avx2.Or(Avx2.And(l1, m4), Avx2.And(Avx2.ShiftLeftLogical(h, 2).AsByte(), m30)));
            Avx.Store(q + 64, Avx2.Or(Avx2.And(Avx2.ShiftRightLogical(l0.AsUInt16(), 4).AsByte(), m4), Avx2.And(h.AsByte(), m30)));
            Avx.Store(q + 96, Avx2.Or(Avx2.And(Avx2.ShiftRightLogical(l1.AsUInt16(), 4).AsByte(), m4), Avx2.And(Avx2.ShiftRightLogical(h, 2).AsByte(), m30)));
        }
        for (int c = 0; c < 8; c++)
        {
            int s0 = sc[2 * c], s1 = sc[2 * c + 1];
            Avx.Store(k->Lanes + 8 * c, Vector256.Create(s0, s0, s0, s0, s1, s1, s1, s1));
        }
        for (int g = 0; g < 16; g++) k->C[g] = 32 * sc[g];
    }

    /// <summary>Adds one unpacked super-block's contribution for each token: vector part into acc[t], the
    /// offset part into off[t].</summary>
    private static void KBlockTokens(KBlock* k, byte* a, long stride, int tokens, Vector256<float>* acc, float* off)
    {
        for (int t = 0; t < tokens; t++, a += stride)
        {
            var y = (BlockQ8_K*)a;
            sbyte* q8 = (sbyte*)&y->Qs;
            short* bsums = (short*)&y->BSums;
            var isum = Vector256<int>.Zero;
            for (int c = 0; c < 8; c++)
            {
                var p = DotU8S8(Vector256<int>.Zero, Avx.LoadVector256(k->Q + 32 * c), Avx.LoadVector256(q8 + 32 * c));
                isum = Avx2.Add(isum, Avx2.MultiplyLow(p, Avx.LoadVector256(k->Lanes + 8 * c)));
            }
            int csum = 0;
            for (int g = 0; g < 16; g++) csum += k->C[g] * bsums[g];
            acc[t] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(isum), Vector256.Create(k->D * y->D), acc[t]);
            off[t] += k->F * y->D * csum;
        }
    }

    private static void KMany(delegate*<byte*, KBlock*, void> unpack, int blockBytes, byte* w, byte* a, long stride, int n, int tokens, float* y)
    {
        KBlock k;
        var acc = stackalloc Vector256<float>[MaxTokens];
        float* off = stackalloc float[MaxTokens];
        for (int t = 0; t < tokens; t++) { acc[t] = Vector256<float>.Zero; off[t] = 0; }
        for (int b = 0; b < n / 256; b++)
        {
            unpack(w + (long)b * blockBytes, &k);
            KBlockTokens(&k, a + (long)b * sizeof(BlockQ8_K), stride, tokens, acc, off);
        }
        for (int t = 0; t < tokens; t++) y[t] = Vector256.Sum(acc[t]) - off[t];
    }

    private static void Q4_KMany(byte* w, byte* a, long stride, int n, int tokens, float* y) =>
        KMany(&UnpackQ4K, sizeof(BlockQ4_K), w, a, stride, n, tokens, y);

    private static void Q6_KMany(byte* w, byte* a, long stride, int n, int tokens, float* y) =>
        KMany(&UnpackQ6K, sizeof(BlockQ6_K), w, a, stride, n, tokens, y);

    private static float Q4_KOne(byte* w, byte* a, int n)
    {
        float y;
        Q4_KMany(w, a, 0, n, 1, &y);
        return y;
    }

    private static float Q6_KOne(byte* w, byte* a, int n)
    {
        float y;
        Q6_KMany(w, a, 0, n, 1, &y);
        return y;
    }
}
