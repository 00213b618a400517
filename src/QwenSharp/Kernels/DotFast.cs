using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

/// <summary>
/// The fast integer dot products (AVX2, with AVX-VNNI's vpdpbusd where the CPU has it) of quantized weight
/// rows against 8-bit activations, each the twin of a <see cref="DotPlain"/> kernel and tested against it.
/// Three shapes: <c>One</c> (one row · one token: decode), <c>Many</c> (one row · up to <see cref="MaxTokens"/>
/// tokens: each weight block is unpacked once and used for every token of the tile) and, for Q8_0/Q4_0/Q5_0,
/// <c>Block</c> (2 rows · 4 tokens in registers, DotFastBlock.cs: multi-token products where RowLaneGemm does not apply: CPUs without AVX-VNNI, formats it does not cover).
/// IQ4_NL and IQ4_XS: DotFastIq4.cs; Q2_K and Q3_K: DotFastK23.cs; Q4_1 and Q5_1: DotFastMin.cs. CPUs without AVX2
/// use the plain twins.
/// .NET 10 exposes vpdpbusd only at 256 bits (AvxVnni); on Zen 4 that is the same throughput as 512.
/// </summary>
internal static unsafe partial class DotFast
{
    public const int MaxTokens = 16;

    public static bool Supported => KernelTiers.X86;

    /// <summary>One row · one token; null where the format has no fast kernel.</summary>
    public static delegate*<byte*, byte*, int, float> SelectOne(GgmlType type)
    {
        if (KernelTiers.Neon) return Arm64.Arm64Dot.SelectOne(type);
        if (!Supported) return null;
        return type switch
        {
            GgmlType.Q8_0 => &Q8_0One,
            GgmlType.Q4_0 => KernelTiers.Avx512 ? &Q4_0One512 : &Q4_0One,
            GgmlType.Q5_0 => &Q5_0One,
            GgmlType.Q4_1 => &Q4_1One,
            GgmlType.Q5_1 => &Q5_1One,
            GgmlType.Q2_K => &Q2_KOne,
            GgmlType.Q3_K => &Q3_KOne,
            GgmlType.Q4_K => &Q4_KOne,
            GgmlType.Q5_K => &Q5_KOne,
            GgmlType.Q6_K => &Q6_KOne,
            GgmlType.IQ4_NL => &IQ4_NLOne,
            GgmlType.IQ4_XS => &IQ4_XSOne,
            _ => null,
        };
    }

    /// <summary>One row · several tokens (w, activations, activation row stride, n, tokens, outputs[tokens]).</summary>
    public static delegate*<byte*, byte*, long, int, int, float*, void> SelectMany(GgmlType type)
    {
        if (KernelTiers.Neon) return Arm64.Arm64Dot.SelectMany(type);
        if (!Supported) return null;
        return type switch
        {
            GgmlType.Q8_0 => &Q8_0Many,
            GgmlType.Q4_0 => &Q4_0Many,
            GgmlType.Q5_0 => &Q5_0Many,
            GgmlType.Q4_1 => &Q4_1Many,
            GgmlType.Q5_1 => &Q5_1Many,
            GgmlType.Q2_K => &Q2_KMany,
            GgmlType.Q3_K => &Q3_KMany,
            GgmlType.Q4_K => &Q4_KMany,
            GgmlType.Q5_K => &Q5_KMany,
            GgmlType.Q6_K => &Q6_KMany,
            GgmlType.IQ4_NL => &IQ4_NLMany,
            GgmlType.IQ4_XS => &IQ4_XSMany,
            _ => null,
        };
    }

    /// <summary>Σ u·s over groups of 4 bytes into 8 int32 lanes: vpdpbusd, or vpmaddubsw + vpmaddwd on plain AVX2
    /// (no saturation here: |u·s| pairs stay below 2·127·127).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> DotU8S8(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s)
    {
        if (KernelTiers.Vnni) return AvxVnni.MultiplyWideningAndAdd(acc, u, s);
        var p16 = Avx2.MultiplyAddAdjacent(u, s);
        return Avx2.Add(acc, Avx2.MultiplyAddAdjacent(p16, Vector256<short>.One));
    }

    /// <summary>Σ a·b over pairs of int16 into 8 int32 lanes: vpdpwssd, or vpmaddwd + vpaddd on plain AVX2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> DotS16(Vector256<int> acc, Vector256<short> a, Vector256<short> b)
    {
        if (KernelTiers.Vnni) return AvxVnni.MultiplyWideningAndAdd(acc, a, b);
        return Avx2.Add(acc, Avx2.MultiplyAddAdjacent(a, b));
    }

    /// <summary>Byte j = 0xFF where bit j of <paramref name="bits"/> is set (Q5's fifth bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> BitsToBytes(uint bits)
    {
        var shuffle = Vector256.Create(
            (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
        var x = Avx2.Shuffle(Vector256.Create(bits).AsByte(), shuffle);
        x = Avx2.Or(x, Vector256.Create(0x7fbfdfeff7fbfdfeUL).AsByte());
        return Avx2.CompareEqual(x, Vector256<byte>.AllBitsSet);
    }

    /// <summary>How far ahead of the weights being read the one-row decode kernels fetch. Rows follow each other in
    /// memory, so near a row's end this fetches the next row's start. Without it the hardware prefetchers fell behind
    /// on Ice Lake: decode of the one-row formats ran at 0.75–0.95× llama.cpp's there.</summary>
    internal const int AheadBytes = 2048;

    /// <summary>Fetches the cache line <see cref="AheadBytes"/> past <paramref name="w"/>: one call per 64 bytes read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void FetchAhead(byte* w) => Sse.Prefetch0(w + AheadBytes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Scale(byte* weightBlock, byte* actBlock) =>
        FloatFormats.HalfTable[*(ushort*)weightBlock] * FloatFormats.HalfTable[*(ushort*)actBlock];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Nibbles(byte* qs16)
    {
        var qs = Sse2.LoadVector128(qs16);
        var m4 = Vector128.Create((byte)0x0F);
        return Vector256.Create(Sse2.And(qs, m4), Sse2.And(Sse2.ShiftRightLogical(qs.AsUInt16(), 4).AsByte(), m4));
    }

    // ---- Q8_0 · Q8_0: |w| · sign(a, w) so that the unsigned operand of vpdpbusd is the weight's magnitude.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q8_0One(byte* w, byte* a, int n)
    {
        // Four accumulators, four blocks a step (see Q4_0One).
        float* half = FloatFormats.HalfTable;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        var acc3 = Vector256<float>.Zero;
        int blocks = n / 32, b = 0;
        for (; b + 3 < blocks; b += 4, w += 136, a += 136)
        {
            FetchAhead(w); FetchAhead(w + 64); FetchAhead(w + 128);
            acc0 = Q8_0Block(w, a, acc0, half);
            acc1 = Q8_0Block(w + 34, a + 34, acc1, half);
            acc2 = Q8_0Block(w + 68, a + 68, acc2, half);
            acc3 = Q8_0Block(w + 102, a + 102, acc3, half);
        }
        for (; b < blocks; b++, w += 34, a += 34) acc0 = Q8_0Block(w, a, acc0, half);
        return Vector256.Sum(Avx.Add(Avx.Add(acc0, acc1), Avx.Add(acc2, acc3)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q8_0Block(byte* w, byte* a, Vector256<float> acc, float* half) =>
        Q8_0Row(w, Avx.LoadVector256((sbyte*)(a + 2)), half[*(ushort*)a], acc, half);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q8_0Many(byte* w, byte* a, long stride, int n, int tokens, float* y)
    {
        var acc = stackalloc Vector256<float>[MaxTokens];
        for (int t = 0; t < tokens; t++) acc[t] = Vector256<float>.Zero;
        for (int b = 0; b < n / 32; b++, w += 34, a += 34)
        {
            var wq = Avx.LoadVector256((sbyte*)(w + 2));
            var wabs = Avx2.Abs(wq);
            float dw = FloatFormats.HalfTable[*(ushort*)w];
            byte* at = a;
            for (int t = 0; t < tokens; t++, at += stride)
            {
                var p = DotU8S8(Vector256<int>.Zero, wabs, Avx2.Sign(Avx.LoadVector256((sbyte*)(at + 2)), wq));
                acc[t] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(dw * FloatFormats.HalfTable[*(ushort*)at]), acc[t]);
            }
        }
        for (int t = 0; t < tokens; t++) y[t] = Vector256.Sum(acc[t]);
    }

    // ---- Q4_0 · Q8_0: Σ (q − 8)·a = Σ q·a − Σ 8·a, both by vpdpbusd (q and 8 are the unsigned operands).

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4_0One(byte* w, byte* a, int n)
    {
        // Four accumulators, four blocks a step: one FMA chain would wait its latency out on every block.
        // The table pointer is read once, before the loop: read inside it (a static field, which this
        // AggressiveOptimization method cannot fold), the class-initialization check keeps the accumulators on
        // the stack, a store and a reload around every FMA.
        float* half = FloatFormats.HalfTable;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        var acc3 = Vector256<float>.Zero;
        int blocks = n / 32, b = 0;
        for (; b + 3 < blocks; b += 4, w += 72, a += 136)
        {
            acc0 = Q4_0Block(w, a, acc0, half);
            acc1 = Q4_0Block(w + 18, a + 34, acc1, half);
            acc2 = Q4_0Block(w + 36, a + 68, acc2, half);
            acc3 = Q4_0Block(w + 54, a + 102, acc3, half);
        }
        for (; b < blocks; b++, w += 18, a += 34) acc0 = Q4_0Block(w, a, acc0, half);
        return Vector256.Sum(Avx.Add(Avx.Add(acc0, acc1), Avx.Add(acc2, acc3)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q4_0Block(byte* w, byte* a, Vector256<float> acc, float* half)
    {
        var aq = Avx.LoadVector256((sbyte*)(a + 2));
        var p = Avx2.Subtract(DotU8S8(Vector256<int>.Zero, Nibbles(w + 2), aq), DotU8S8(Vector256<int>.Zero, Vector256.Create((byte)8), aq));
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(half[*(ushort*)w] * half[*(ushort*)a]), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_0Many(byte* w, byte* a, long stride, int n, int tokens, float* y)
    {
        var acc = stackalloc Vector256<float>[MaxTokens];
        for (int t = 0; t < tokens; t++) acc[t] = Vector256<float>.Zero;
        var eight = Vector256.Create((byte)8);
        for (int b = 0; b < n / 32; b++, w += 18, a += 34)
        {
            var q = Nibbles(w + 2);
            float dw = FloatFormats.HalfTable[*(ushort*)w];
            byte* at = a;
            for (int t = 0; t < tokens; t++, at += stride)
            {
                var aq = Avx.LoadVector256((sbyte*)(at + 2));
                var p = Avx2.Subtract(DotU8S8(Vector256<int>.Zero, q, aq), DotU8S8(Vector256<int>.Zero, eight, aq));
                acc[t] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(dw * FloatFormats.HalfTable[*(ushort*)at]), acc[t]);
            }
        }
        for (int t = 0; t < tokens; t++) y[t] = Vector256.Sum(acc[t]);
    }

    // ---- Q5_0 · Q8_0: q = nibble | fifth bit · 16, value q − 16.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Q5Quants(byte* block) =>
        Avx2.Or(Nibbles(block + 6), Avx2.And(BitsToBytes(*(uint*)(block + 2)), Vector256.Create((byte)0x10)));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q5_0One(byte* w, byte* a, int n)
    {
        float* half = FloatFormats.HalfTable; // read once (see Q4_0One)
        var acc = Vector256<float>.Zero;
        var sixteen = Vector256.Create((byte)16);
        for (int b = 0; b < n / 32; b++, w += 22, a += 34)
        {
            var q = Q5Quants(w);
            var aq = Avx.LoadVector256((sbyte*)(a + 2));
            var p = Avx2.Subtract(DotU8S8(Vector256<int>.Zero, q, aq), DotU8S8(Vector256<int>.Zero, sixteen, aq));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(half[*(ushort*)w] * half[*(ushort*)a]), acc);
        }
        return Vector256.Sum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q5_0Many(byte* w, byte* a, long stride, int n, int tokens, float* y)
    {
        var acc = stackalloc Vector256<float>[MaxTokens];
        for (int t = 0; t < tokens; t++) acc[t] = Vector256<float>.Zero;
        var sixteen = Vector256.Create((byte)16);
        for (int b = 0; b < n / 32; b++, w += 22, a += 34)
        {
            var q = Q5Quants(w);
            float dw = FloatFormats.HalfTable[*(ushort*)w];
            byte* at = a;
            for (int t = 0; t < tokens; t++, at += stride)
            {
                var aq = Avx.LoadVector256((sbyte*)(at + 2));
                var p = Avx2.Subtract(DotU8S8(Vector256<int>.Zero, q, aq), DotU8S8(Vector256<int>.Zero, sixteen, aq));
                acc[t] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(dw * FloatFormats.HalfTable[*(ushort*)at]), acc[t]);
            }
        }
        for (int t = 0; t < tokens; t++) y[t] = Vector256.Sum(acc[t]);
    }
}
