using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

// K-quants · Q8_K, the way ggml's AVX2 kernels do it: per 32 values vpmaddubsw (unsigned quant × int8
// activation → int16 pairs; no saturation: at most 2·63·127) then vpmaddwd by the int16 sub-block scale, summed
// into int32 lanes per super-block, then one FMA by d·y.d. The offsets use Q8_K's bsums (sums of 16 activations):
//   Q4_K: value = d·sc·q − dmin·m   → subtract dmin·y.d·Σ_j m_j·(bsum_2j + bsum_2j+1);
//   Q5_K: the same, q = nibble | fifth bit · 16 (at most 31: 2·31·127 stays within int16);
//   Q6_K: value = d·sc·(q − 32)     → subtract d·y.d·32·Σ_g sc_g·bsum_g.
// One token: unpacked in registers. Several tokens: each super-block unpacked once into a KBlock on the stack.
internal static unsafe partial class DotFast
{
    private struct KBlock
    {
        public fixed byte Q[256];
        public fixed short Scales[128]; // 8 chunks of 32 values × 16 int16 lanes
        public fixed short C[16];       // offset coefficient per group of 16
        public float D;
        public float F;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> ScaledDot(Vector256<byte> q, sbyte* a, Vector256<short> scale) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, Avx.LoadVector256(a)), scale);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int OffsetSum(short* c, short* bsums)
    {
        var p = Avx2.MultiplyAddAdjacent(Avx.LoadVector256(c), Avx.LoadVector256(bsums));
        return Vector256.Sum(p);
    }

    /// <summary>Q4_K's 8 scales (low 8 bytes) and 8 mins (high 8 bytes) of one super-block, in registers: writing
    /// them to memory and reading them back wider would stall on store forwarding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4KScaleWords(byte* packed, out ulong scales8, out ulong mins8)
    {
        const uint kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
        uint u0 = Unsafe.ReadUnaligned<uint>(packed), u1 = Unsafe.ReadUnaligned<uint>(packed + 4), u2 = Unsafe.ReadUnaligned<uint>(packed + 8);
        scales8 = (u0 & kmask1) | ((ulong)((u2 & kmask2) | (((u0 >> 6) & kmask3) << 4)) << 32);
        mins8 = (u1 & kmask1) | ((ulong)(((u2 >> 4) & kmask2) | (((u1 >> 6) & kmask3) << 4)) << 32);
    }

    /// <summary>Σ_j mins[j]·(bsums[2j] + bsums[2j+1]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Q4KMinSum(ulong mins8, short* bsums)
    {
        var pairs = Avx2.MultiplyAddAdjacent(Avx.LoadVector256(bsums), Vector256<short>.One);
        var mins = Avx2.ConvertToVector256Int32(Vector128.CreateScalar(mins8).AsByte());
        return Vector256.Sum(Avx2.MultiplyLow(pairs, mins));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4_KOne(byte* w, byte* a, int n)
    {
        var acc = Vector256<float>.Zero;
        float off = 0;
        var m4 = Vector256.Create((byte)0x0F);
        for (int b = 0; b < n / 256; b++, w += sizeof(BlockQ4_K), a += sizeof(BlockQ8_K))
        {
            FetchAhead(w); FetchAhead(w + 64); FetchAhead(w + 128);
            var x = (BlockQ4_K*)w;
            var y = (BlockQ8_K*)a;
            Q4KScaleWords((byte*)&x->Scales, out ulong sc, out ulong mn);
            byte* qs = (byte*)&x->Qs;
            sbyte* q8 = (sbyte*)&y->Qs;
            var sumi = Vector256<int>.Zero;
            for (int k = 0; k < 4; k++)
            {
                var v = Avx.LoadVector256(qs + 32 * k);
                var lo = Avx2.And(v, m4);
                var hi = Avx2.And(Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), m4);
                sumi = Avx2.Add(sumi, ScaledDot(lo, q8 + 64 * k, Vector256.Create((short)(byte)(sc >> (16 * k)))));
                sumi = Avx2.Add(sumi, ScaledDot(hi, q8 + 64 * k + 32, Vector256.Create((short)(byte)(sc >> (16 * k + 8)))));
            }
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(FloatFormats.HalfTable[x->D] * y->D), acc);
            off += FloatFormats.HalfTable[x->DMin] * y->D * Q4KMinSum(mn, (short*)&y->BSums);
        }
        return Vector256.Sum(acc) - off;
    }

    /// <summary>Q5_K's fifth bits for the chunk whose bits are now the lowest two of each qh byte (the caller shifts
    /// qh right by 2 per chunk of 64 values): bit 0 for the low nibbles, bit 1 for the high ones, as 0x10. In 16-bit
    /// lanes, a shift left by 4 (3) puts bit 0 (1) of each byte at that byte's bit 4; bits crossing from the other byte
    /// land elsewhere and are masked off.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q5KHighBits(Vector256<ushort> qh, out Vector256<byte> lo, out Vector256<byte> hi)
    {
        var m = Vector256.Create((byte)0x10);
        lo = Avx2.And(Avx2.ShiftLeftLogical(qh, 4).AsByte(), m);
        hi = Avx2.And(Avx2.ShiftLeftLogical(qh, 3).AsByte(), m);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q5_KOne(byte* w, byte* a, int n)
    {
        var acc = Vector256<float>.Zero;
        float off = 0;
        var m4 = Vector256.Create((byte)0x0F);
        for (int b = 0; b < n / 256; b++, w += sizeof(BlockQ5_K), a += sizeof(BlockQ8_K))
        {
            FetchAhead(w); FetchAhead(w + 64); FetchAhead(w + 128);
            var x = (BlockQ5_K*)w;
            var y = (BlockQ8_K*)a;
            Q4KScaleWords((byte*)&x->Scales, out ulong sc, out ulong mn);
            byte* qs = (byte*)&x->Qs;
            var qh = Avx.LoadVector256((byte*)&x->Qh).AsUInt16();
            sbyte* q8 = (sbyte*)&y->Qs;
            var sumi = Vector256<int>.Zero;
            for (int k = 0; k < 4; k++)
            {
                var v = Avx.LoadVector256(qs + 32 * k);
                Q5KHighBits(qh, out var hl, out var hh);
                qh = Avx2.ShiftRightLogical(qh, 2);
                var lo = Avx2.Or(Avx2.And(v, m4), hl);
                var hi = Avx2.Or(Avx2.And(Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), m4), hh);
                sumi = Avx2.Add(sumi, ScaledDot(lo, q8 + 64 * k, Vector256.Create((short)(byte)(sc >> (16 * k)))));
                sumi = Avx2.Add(sumi, ScaledDot(hi, q8 + 64 * k + 32, Vector256.Create((short)(byte)(sc >> (16 * k + 8)))));
            }
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(FloatFormats.HalfTable[x->D] * y->D), acc);
            off += FloatFormats.HalfTable[x->DMin] * y->D * Q4KMinSum(mn, (short*)&y->BSums);
        }
        return Vector256.Sum(acc) - off;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KQuants(BlockQ6_K* x, int half, out Vector256<byte> q1, out Vector256<byte> q2, out Vector256<byte> q3, out Vector256<byte> q4)
    {
        var m4 = Vector256.Create((byte)0x0F);
        var m30 = Vector256.Create((byte)0x30);
        byte* ql = (byte*)&x->Ql + 64 * half;
        var h = Avx.LoadVector256((byte*)&x->Qh + 32 * half).AsUInt16();
        var l0 = Avx.LoadVector256(ql);
        var l1 = Avx.LoadVector256(ql + 32);
        q1 = Avx2.Or(Avx2.And(l0, m4), Avx2.And(Avx2.ShiftLeftLogical(h, 4).AsByte(), m30));
        q2 = Avx2.Or(Avx2.And(l1, m4), Avx2.And(Avx2.ShiftLeftLogical(h, 2).AsByte(), m30));
        q3 = Avx2.Or(Avx2.And(Avx2.ShiftRightLogical(l0.AsUInt16(), 4).AsByte(), m4), Avx2.And(h.AsByte(), m30));
        q4 = Avx2.Or(Avx2.And(Avx2.ShiftRightLogical(l1.AsUInt16(), 4).AsByte(), m4), Avx2.And(Avx2.ShiftRightLogical(h, 2).AsByte(), m30));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> PairScale(sbyte* sc, int g) =>
        Vector256.Create(Vector128.Create((short)sc[g]), Vector128.Create((short)sc[g + 1]));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q6_KOne(byte* w, byte* a, int n)
    {
        var acc = Vector256<float>.Zero;
        float off = 0;
        for (int b = 0; b < n / 256; b++, w += sizeof(BlockQ6_K), a += sizeof(BlockQ8_K))
        {
            FetchAhead(w); FetchAhead(w + 64); FetchAhead(w + 128); FetchAhead(w + 192);
            var x = (BlockQ6_K*)w;
            var y = (BlockQ8_K*)a;
            sbyte* sc = (sbyte*)&x->Scales;
            sbyte* q8 = (sbyte*)&y->Qs;
            var sumi = Vector256<int>.Zero;
            for (int half = 0; half < 2; half++)
            {
                Q6KQuants(x, half, out var q1, out var q2, out var q3, out var q4);
                sbyte* a8 = q8 + 128 * half;
                int g = 8 * half;
                sumi = Avx2.Add(sumi, ScaledDot(q1, a8, PairScale(sc, g)));
                sumi = Avx2.Add(sumi, ScaledDot(q2, a8 + 32, PairScale(sc, g + 2)));
                sumi = Avx2.Add(sumi, ScaledDot(q3, a8 + 64, PairScale(sc, g + 4)));
                sumi = Avx2.Add(sumi, ScaledDot(q4, a8 + 96, PairScale(sc, g + 6)));
            }
            float d = FloatFormats.HalfTable[x->D] * y->D;
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(d), acc);
            var scales16 = Avx2.ConvertToVector256Int16(Sse2.LoadVector128(sc));
            off += d * 32 * Vector256.Sum(Avx2.MultiplyAddAdjacent(scales16, Avx.LoadVector256((short*)&y->BSums)));
        }
        return Vector256.Sum(acc) - off;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UnpackQ4K(byte* block, KBlock* k)
    {
        var x = (BlockQ4_K*)block;
        k->D = FloatFormats.HalfTable[x->D];
        k->F = FloatFormats.HalfTable[x->DMin];
        Q4KScaleWords((byte*)&x->Scales, out ulong sc, out ulong mn);
        byte* qs = (byte*)&x->Qs;
        var m4 = Vector256.Create((byte)0x0F);
        for (int c = 0; c < 4; c++)
        {
            var v = Avx.LoadVector256(qs + 32 * c);
            Avx.Store(k->Q + 64 * c, Avx2.And(v, m4));
            Avx.Store(k->Q + 64 * c + 32, Avx2.And(Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), m4));
        }
        for (int j = 0; j < 8; j++)
        {
            Avx.Store(k->Scales + 16 * j, Vector256.Create((short)(byte)(sc >> (8 * j))));
            k->C[2 * j] = k->C[2 * j + 1] = (short)(byte)(mn >> (8 * j));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UnpackQ5K(byte* block, KBlock* k)
    {
        var x = (BlockQ5_K*)block;
        k->D = FloatFormats.HalfTable[x->D];
        k->F = FloatFormats.HalfTable[x->DMin];
        Q4KScaleWords((byte*)&x->Scales, out ulong sc, out ulong mn);
        byte* qs = (byte*)&x->Qs;
        var qh = Avx.LoadVector256((byte*)&x->Qh).AsUInt16();
        var m4 = Vector256.Create((byte)0x0F);
        for (int c = 0; c < 4; c++)
        {
            var v = Avx.LoadVector256(qs + 32 * c);
            Q5KHighBits(qh, out var hl, out var hh);
            qh = Avx2.ShiftRightLogical(qh, 2);
            Avx.Store(k->Q + 64 * c, Avx2.Or(Avx2.And(v, m4), hl));
            Avx.Store(k->Q + 64 * c + 32, Avx2.Or(Avx2.And(Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), m4), hh));
        }
        for (int j = 0; j < 8; j++)
        {
            Avx.Store(k->Scales + 16 * j, Vector256.Create((short)(byte)(sc >> (8 * j))));
            k->C[2 * j] = k->C[2 * j + 1] = (short)(byte)(mn >> (8 * j));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UnpackQ6K(byte* block, KBlock* k)
    {
        var x = (BlockQ6_K*)block;
        k->D = FloatFormats.HalfTable[x->D];
        k->F = k->D;
        sbyte* sc = (sbyte*)&x->Scales;
        for (int half = 0; half < 2; half++)
        {
            Q6KQuants(x, half, out var q1, out var q2, out var q3, out var q4);
            byte* q = k->Q + 128 * half;
            Avx.Store(q, q1);
            Avx.Store(q + 32, q2);
            Avx.Store(q + 64, q3);
            Avx.Store(q + 96, q4);
        }
        for (int c = 0; c < 8; c++) Avx.Store(k->Scales + 16 * c, PairScale(sc, 2 * c));
        for (int g = 0; g < 16; g++) k->C[g] = (short)(32 * sc[g]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KMany(delegate*<byte*, KBlock*, void> unpack, int blockBytes, byte* w, byte* a, long stride, int n, int tokens, float* y)
    {
        KBlock k;
        var acc = stackalloc Vector256<float>[MaxTokens];
        float* off = stackalloc float[MaxTokens];
        for (int t = 0; t < tokens; t++) { acc[t] = Vector256<float>.Zero; off[t] = 0; }
        for (int b = 0; b < n / 256; b++)
        {
            unpack(w + (long)b * blockBytes, &k);
            byte* at = a + (long)b * sizeof(BlockQ8_K);
            for (int t = 0; t < tokens; t++, at += stride)
            {
                var yb = (BlockQ8_K*)at;
                sbyte* q8 = (sbyte*)&yb->Qs;
                var sumi = Vector256<int>.Zero;
                for (int c = 0; c < 8; c++)
                    sumi = Avx2.Add(sumi, ScaledDot(Avx.LoadVector256(k.Q + 32 * c), q8 + 32 * c, Avx.LoadVector256(k.Scales + 16 * c)));
                acc[t] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(k.D * yb->D), acc[t]);
                off[t] += k.F * yb->D * OffsetSum(k.C, (short*)&yb->BSums);
            }
        }
        for (int t = 0; t < tokens; t++) y[t] = Vector256.Sum(acc[t]) - off[t];
    }

    private static void Q4_KMany(byte* w, byte* a, long stride, int n, int tokens, float* y) =>
        KMany(&UnpackQ4K, sizeof(BlockQ4_K), w, a, stride, n, tokens, y);

    private static void Q5_KMany(byte* w, byte* a, long stride, int n, int tokens, float* y) =>
        KMany(&UnpackQ5K, sizeof(BlockQ5_K), w, a, stride, n, tokens, y);

    private static void Q6_KMany(byte* w, byte* a, long stride, int n, int tokens, float* y) =>
        KMany(&UnpackQ6K, sizeof(BlockQ6_K), w, a, stride, n, tokens, y);
}
