using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

/// <summary>
/// The activations of a batch quantized and laid out for <see cref="RowLaneGemm"/>: per tile of
/// <see cref="RowLaneGemm.TileTokens"/> tokens, block-major ([block][token]: the kernel's token loop reads them
/// contiguously), each token's block as its 32 quants plus an 8-byte record (−offset·Σq as int32, or Q8_1's s; the
/// block scale as float, fp16-rounded as the Q8_0 block stores it). The K-quants' Q8_K super-blocks likewise, with
/// 256 quants and a 64-byte record (see <see cref="RowLaneGemmK"/>).
/// <para>The values are llama.cpp's activations byte for byte (ggml-cpu's AVX quantize_row_q8_0/_q8_1 and
/// quantize_row_q8_K_ref, as <see cref="ActivationQuantizer"/>: for Q8_0 d = amax/127, q = round-half-even(x·127/amax)),
/// computed 8 lanes at a time: vcvtps2dq rounds half to even under the default MXCSR, as ggml's
/// _mm256_round_ps(_MM_ROUND_NEAREST) and nearest_int do.</para>
/// </summary>
internal static unsafe class RowLanePack
{
    /// <summary>Bytes of the panel of <paramref name="tokens"/> tokens of <paramref name="cols"/> values.</summary>
    public static long Bytes(GgmlType weightType, int cols, int tokens) => IsK(weightType)
        ? (long)RowLaneGemm.Padded(tokens) * (cols / 256) * (256 + RowLaneGemmK.RecordBytes)
        : (long)RowLaneGemm.Padded(tokens) * (cols / 32) * 40;

    private static bool IsK(GgmlType type) => type is GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.IQ4_XS;

    /// <summary>The q of the unsigned weight quants, value = d·(q − offset), per weight format; none (−1) for the
    /// formats with a min, value d·q + m, whose Q8_1 activations carry s = d_a·Σa instead.</summary>
    private static int Offset(GgmlType type) => type switch
    {
        GgmlType.Q8_0 => KernelTiers.Vnni ? 128 : 0, // without VNNI the weights stay signed (RowLaneQ8Sign)
        GgmlType.Q4_0 => 8,
        GgmlType.IQ4_NL => KernelTiers.Vnni ? 128 : 0, // the grid moved to 1..241 for vpdpbusd; signed without VNNI (RowLaneIq4.SignRows)
        GgmlType.Q5_0 => 16,
        GgmlType.Q4_1 or GgmlType.Q5_1 => -1,
        _ => throw new NotSupportedException($"No row-lane kernel for {type} weights."),
    };

    /// <summary>Quantizes token <paramref name="t"/>'s <paramref name="cols"/> activations <paramref name="x"/> into the
    /// panel: for tile k (count tokens, stride = count padded to a multiple of 4), block b, token t' = t − k·TileTokens,
    /// its quants at [k·TileTokens·blocks·32 + (b·stride + t')·32], its record at
    /// [padded(tokens)·blocks·32 + (k·TileTokens·blocks + b·stride + t')·8]: −offset·Σa (int32), or for Q8_1
    /// s = fp16(d·Σa) as float (quantize_row_q8_1); then d_a as float. The tile's last token also zeroes the padding
    /// slots after it, which the kernel multiplies (their sums and scales are 0) but never stores.</summary>
    public static void Token(GgmlType weightType, float* x, int t, int tokens, int cols, byte* panel)
    {
        if (IsK(weightType))
        {
            TokenK(x, t, tokens, cols, panel);
            return;
        }
        int blocks = cols / 32;
        long tileBase = Slot(t, tokens, blocks, out int tt, out int stride, out int pad);
        byte* quants = panel + tileBase * 32;
        byte* records = panel + (long)RowLaneGemm.Padded(tokens) * blocks * 32 + tileBase * 8;
        int offset = Offset(weightType);
        for (int b = 0; b < blocks; b++, x += 32)
        {
            long i = (long)b * stride + tt;
            float d = Block(x, (sbyte*)(quants + i * 32), out int sum);
            if (offset < 0) *(float*)(records + i * 8) = FloatFormats.HalfTable[FloatFormats.SingleToHalf(d * sum)];
            else *(int*)(records + i * 8) = -offset * sum;
            *(float*)(records + i * 8 + 4) = FloatFormats.HalfTable[FloatFormats.SingleToHalf(d)];
            ClearPadding(quants + (i + 1) * 32, pad * 32, records + (i + 1) * 8, pad * 8);
        }
    }

    /// <summary>Where token <paramref name="t"/> goes: returns its tile's first slot (tile · TileTokens · blocks) and gives its
    /// index in the tile, the tile's token stride (its count padded to whole steps), and the padding slots the token
    /// must clear after its own (only the tile's last token has any).</summary>
    private static long Slot(int t, int tokens, int blocks, out int tt, out int stride, out int pad)
    {
        int tile = t / RowLaneGemm.TileTokens;
        tt = t % RowLaneGemm.TileTokens;
        int count = Math.Min(RowLaneGemm.TileTokens, tokens - tile * RowLaneGemm.TileTokens);
        stride = RowLaneGemm.Padded(count);
        pad = tt == count - 1 ? stride - count : 0;
        return (long)tile * RowLaneGemm.TileTokens * blocks;
    }

    private static void ClearPadding(byte* quants, int quantBytes, byte* records, int recordBytes)
    {
        if (quantBytes == 0) return;
        new Span<byte>(quants, quantBytes).Clear();
        new Span<byte>(records, recordBytes).Clear();
    }

    /// <summary>The K-quants' Q8_K activations (llama.cpp's rule, as <see cref="ActivationQuantizer.Q8_K"/>) in the layout
    /// of <see cref="RowLaneGemmK"/>: per tile, [super-block][token] of 256 quants (token stride padded as above), then
    /// records of 64 bytes.</summary>
    private static void TokenK(float* x, int t, int tokens, int cols, byte* panel)
    {
        int blocks = cols / 256;
        long tileBase = Slot(t, tokens, blocks, out int tt, out int stride, out int pad);
        byte* quants = panel + tileBase * 256;
        byte* records = panel + (long)RowLaneGemm.Padded(tokens) * blocks * 256 + tileBase * RowLaneGemmK.RecordBytes;
        for (int b = 0; b < blocks; b++, x += 256)
        {
            long i = (long)b * stride + tt;
            byte* rec = records + i * RowLaneGemmK.RecordBytes;
            short* bsums = (short*)rec;
            *(float*)(rec + 48) = BlockK(x, (sbyte*)(quants + i * 256), bsums);
            for (int j = 0; j < 8; j++) ((short*)(rec + 32))[j] = (short)(bsums[2 * j] + bsums[2 * j + 1]);
            ClearPadding(quants + (i + 1) * 256, pad * 256, rec + RowLaneGemmK.RecordBytes, pad * RowLaneGemmK.RecordBytes);
        }
    }

    /// <summary>One Q8_K block of 256 values (quantize_row_q8_K_ref): the quants, the 16 sums of 16, and d returned.
    /// The scale comes from the first value of largest magnitude, sign included (iscale = −127/max); nearest_int's
    /// add-1.5·2²³ rounding is half to even, as vcvtps2dq.</summary>
    internal static float BlockK(float* x, sbyte* q, short* bsums)
    {
        var sign = Vector256.Create(-0f);
        var m = Vector256<float>.Zero;
        for (int j = 0; j < 256; j += 8) m = Avx.Max(m, Avx.AndNot(sign, Avx.LoadVector256(x + j)));
        var m4 = Sse.Max(m.GetLower(), m.GetUpper());
        m4 = Sse.Max(m4, Sse.MoveHighToLow(m4, m4));
        float amax = Sse.MaxScalar(m4, Sse.Shuffle(m4, m4, 0x55)).ToScalar();
        if (amax == 0)
        {
            new Span<byte>(q, 256).Clear();
            new Span<short>(bsums, 16).Clear();
            return 0;
        }
        var va = Vector256.Create(amax);
        int first = 0;
        for (int j = 0; j < 256; j += 8)
        {
            int mask = Avx.MoveMask(Avx.CompareEqual(Avx.AndNot(sign, Avx.LoadVector256(x + j)), va));
            if (mask != 0) { first = j + System.Numerics.BitOperations.TrailingZeroCount(mask); break; }
        }
        float iscale = -127f / x[first];
        var vs = Vector256.Create(iscale);
        var top = Vector256.Create(127);
        for (int j = 0; j < 256; j += 32)
        {
            var i0 = Avx2.Min(Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(x + j), vs)), top);
            var i1 = Avx2.Min(Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(x + j + 8), vs)), top);
            var i2 = Avx2.Min(Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(x + j + 16), vs)), top);
            var i3 = Avx2.Min(Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(x + j + 24), vs)), top);
            bsums[j / 16] = (short)Vector256.Sum(Avx2.Add(i0, i1));
            bsums[j / 16 + 1] = (short)Vector256.Sum(Avx2.Add(i2, i3));
            Avx.Store(q + j, Bytes(i0, i1, i2, i3));
        }
        return 1 / iscale;
    }

    /// <summary>32 int32 (each in −128..127) as bytes in order. Packing works per 128-bit half, leaving the values'
    /// groups of four in the order 0 2 4 6 1 3 5 7, which vpermd puts back.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Bytes(Vector256<int> i0, Vector256<int> i1, Vector256<int> i2, Vector256<int> i3)
    {
        var bytes = Avx2.PackSignedSaturate(Avx2.PackSignedSaturate(i0, i1), Avx2.PackSignedSaturate(i2, i3));
        return Avx2.PermuteVar8x32(bytes.AsInt32(), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)).AsSByte();
    }

    /// <summary>One Q8_0 block of 32 values: the quants to <paramref name="q"/>, their sum, and the scale d = amax/127 (before its fp16 rounding).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Block(float* x, sbyte* q, out int sum)
    {
        var x0 = Avx.LoadVector256(x);
        var x1 = Avx.LoadVector256(x + 8);
        var x2 = Avx.LoadVector256(x + 16);
        var x3 = Avx.LoadVector256(x + 24);
        var sign = Vector256.Create(-0f);
        var m = Avx.Max(Avx.Max(Avx.AndNot(sign, x0), Avx.AndNot(sign, x1)), Avx.Max(Avx.AndNot(sign, x2), Avx.AndNot(sign, x3)));
        var m4 = Sse.Max(m.GetLower(), m.GetUpper());
        m4 = Sse.Max(m4, Sse.MoveHighToLow(m4, m4));
        float amax = Sse.MaxScalar(m4, Sse.Shuffle(m4, m4, 0x55)).ToScalar();
        float id = amax != 0 ? 127f / amax : 0f;
        var vid = Vector256.Create(id);
        var i0 = Avx.ConvertToVector256Int32(Avx.Multiply(x0, vid));
        var i1 = Avx.ConvertToVector256Int32(Avx.Multiply(x1, vid));
        var i2 = Avx.ConvertToVector256Int32(Avx.Multiply(x2, vid));
        var i3 = Avx.ConvertToVector256Int32(Avx.Multiply(x3, vid));
        sum = Vector256.Sum(Avx2.Add(Avx2.Add(i0, i1), Avx2.Add(i2, i3)));
        Avx.Store(q, Bytes(i0, i1, i2, i3));
        return amax / 127f;
    }
}
