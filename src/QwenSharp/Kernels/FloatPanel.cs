using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

/// <summary>
/// The two operand layouts of <see cref="FloatGemm"/>, both f32.
/// <para><b>Weights</b>: a panel of <see cref="Rows"/> rows converted to f32 and transposed,
/// panel[k·32 + r] = W[r0 + r, k] (rows past the matrix are zero), so one k step of the microkernel loads the 32
/// rows' values as two contiguous zmm. Converted once per call and reused by every token.</para>
/// <para><b>Activations</b>: tiles of <see cref="Tokens"/> tokens interleaved, tile[k·12 + j] = x[t0 + j, k], so one
/// k step broadcasts its 12 values from consecutive addresses. They are rounded to the weight's format first,
/// as llama.cpp does: ggml_mul_mat converts src1 to the vec_dot_type (F16 for F16 weights, BF16 for BF16) before
/// both its vec_dot kernels and tinyBLAS (whose AVX-512 F16/BF16 path also requires B in that type); the
/// products are then those of <see cref="DotPlain"/> on the same bytes.</para>
/// </summary>
internal static unsafe class FloatPanel
{
    /// <summary>Weight rows per panel: two zmm of f32.</summary>
    public const int Rows = 32;

    /// <summary>Tokens per activation tile: the microkernel's 12 × 2 accumulators.</summary>
    public const int Tokens = 12;

    /// <summary>Floats the packed activations of <paramref name="tokens"/> tokens take (whole tiles).</summary>
    public static long ActivationFloats(int tokens, int cols) => (long)((tokens + Tokens - 1) / Tokens) * Tokens * cols;

    /// <summary>Rounds and interleaves the tokens of tile <paramref name="tile"/> (x: token rows of
    /// <paramref name="cols"/> floats) into <paramref name="dst"/>, laid out as <see cref="ActivationFloats"/> says.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    public static void PackActivations(GgmlType type, float* x, int cols, int tokens, int tile, float* dst)
    {
        int t0 = tile * Tokens, count = Math.Min(Tokens, tokens - t0);
        float* d = dst + (long)t0 * cols;
        float* tmp = stackalloc float[Tokens * 16];
        int k = 0;
        if (KernelTiers.Avx512)
            for (; k + 16 <= cols; k += 16)
                Transpose16<ActivationRows>(type, (byte*)(x + (long)t0 * cols), (long)cols * sizeof(float), count, k, d + (long)k * Tokens, Tokens);
        for (; k + 16 <= cols; k += 16)
        {
            for (int j = 0; j < count; j++) Round16(type, x + (long)(t0 + j) * cols + k, tmp + j * 16);
            float* dk = d + (long)k * Tokens;
            for (int i = 0; i < 16; i++)
                for (int j = 0; j < count; j++) dk[i * Tokens + j] = tmp[j * 16 + i];
        }
        for (; k < cols; k++)
            for (int j = 0; j < count; j++) d[(long)k * Tokens + j] = RoundScalar(type, x[(long)(t0 + j) * cols + k]);
    }

    /// <summary>fp32 → F16/BF16 → fp32 of one value, as <see cref="FloatFormats"/> converts (llama.cpp's rounding).</summary>
    public static float RoundScalar(GgmlType type, float v) => type switch
    {
        GgmlType.F16 => (float)(Half)v,
        GgmlType.BF16 => FloatFormats.BFloat16ToSingle(FloatFormats.SingleToBFloat16(v)),
        _ => v,
    };

    /// <summary>16 values rounded as <see cref="RoundScalar"/>.</summary>
    public static void Round16(GgmlType type, float* src, float* dst)
    {
        if (!KernelTiers.Wide)
            for (int i = 0; i < 16; i++) dst[i] = RoundScalar(type, src[i]);
        else Rounded16(type, src).Store(dst);
    }

    /// <summary>16 values rounded as <see cref="RoundScalar"/>, on bits: the software (Half) conversion costs more than
    /// the whole GEMM's per-element share.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Rounded16(GgmlType type, float* src)
    {
        if (type == GgmlType.F32) return Vector512.Load(src);
        var bits = Vector512.Load((uint*)src);
        Vector512<uint> r;
        if (type == GgmlType.F16)
        {
            var sign = bits & Vector512.Create(0x80000000u);
            var a = bits & Vector512.Create(0x7fffffffu);
            // Normal halves keep 10 of the 23 mantissa bits: add half an ulp (less one if the kept lsb is 0: ties
            // to even) and clear the 13 dropped bits; past 65504 the result is infinity.
            var normal = (a + Vector512.Create(0xfffu) + ((a >> 13) & Vector512<uint>.One)) & Vector512.Create(0xffffe000u);
            normal = Vector512.ConditionalSelect(Vector512.GreaterThan(normal, Vector512.Create(0x477fe000u)),
                Vector512.Create(0x7f800000u), normal);
            // Below 2^-14 halves are multiples of 2^-24: adding 0.5 (whose ulp is 2^-24) lets the FPU round to even.
            var sub = (a.AsSingle() + Vector512.Create(0.5f) - Vector512.Create(0.5f)).AsUInt32();
            r = Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(0x38800000u)), sub, normal);
            r = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(a, Vector512.Create(0x7f800000u)), a, r) | sign;
        }
        else
        {
            // ggml_compute_fp32_to_bf16: round to nearest even on the upper half; NaN kept quiet (bit 6 of the bf16).
            var rounded = (bits + Vector512.Create(0x7fffu) + ((bits >> 16) & Vector512<uint>.One)) & Vector512.Create(0xffff0000u);
            var nan = Vector512.GreaterThan(bits & Vector512.Create(0x7fffffffu), Vector512.Create(0x7f800000u));
            r = Vector512.ConditionalSelect(nan, (bits | Vector512.Create(0x400000u)) & Vector512.Create(0xffff0000u), rounded);
        }
        return r.AsSingle();
    }

    /// <summary>Converts rows 0..<paramref name="rows"/>−1 (≤ 32) of W (starting at <paramref name="w"/>) into a
    /// transposed f32 panel of 32 × <paramref name="cols"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackWeights(GgmlType type, byte* w, long rowBytes, int rows, int cols, float* panel)
    {
        int k = 0;
        if (KernelTiers.Avx512)
            for (; k + 16 <= cols; k += 16)
                for (int h = 0; h < Rows; h += 16)
                    Transpose16<WeightRows>(type, w + h * rowBytes, rowBytes, rows - h, k, panel + (long)k * Rows + h, Rows);
        for (; k < cols; k++)
            for (int r = 0; r < Rows; r++)
                panel[(long)k * Rows + r] = r < rows ? ToSingle(type, w + r * rowBytes, k) : 0f;
    }

    private static float ToSingle(GgmlType type, byte* row, int k) => type switch
    {
        GgmlType.F32 => ((float*)row)[k],
        GgmlType.F16 => FloatFormats.HalfTable[((ushort*)row)[k]],
        _ => FloatFormats.BFloat16ToSingle(((ushort*)row)[k]),
    };

    /// <summary>16 elements of a row from <paramref name="k"/> as f32. fp16 by bits (.NET exposes no vcvtph2ps):
    /// the halves sign-extended to int32 put the sign in bit 31; (exponent|mantissa) &lt;&lt; 13 times 2^112
    /// re-biases normals and subnormals alike; exponent 31 (inf, NaN) gets the f32 all-ones exponent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Load16(GgmlType type, byte* row, int k)
    {
        if (type == GgmlType.F32) return Vector512.Load((float*)row + k);
        if (type == GgmlType.BF16)
            return Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Vector256.Load((ushort*)row + k)), 16).AsSingle();
        var h = Avx512F.ConvertToVector512Int32(Vector256.Load((short*)row + k));
        var em = h & Vector512.Create(0x7fff);
        var shifted = em << 13;
        var f = shifted.AsSingle() * Vector512.Create(5.192296858534828e33f);
        var special = Vector512.GreaterThan(em, Vector512.Create(0x7bff)).AsSingle();
        f = Vector512.ConditionalSelect(special, (shifted | Vector512.Create(0x7f800000)).AsSingle(), f);
        return f | (h & Vector512.Create(int.MinValue)).AsSingle();
    }

    // Where the 16 rows of a transpose come from: weight rows converted to f32, or activation rows rounded.
    // Loads read 16 rows at once, 32-64 bytes from each: more streams than the hardware prefetcher follows, so
    // weights straight from memory came at 1.5-5 GB/s (1.3 ns per fp16 value, more than the GEMM's own share at
    // 512 tokens). Each load is preceded by a prefetch 512 bytes further along its row.
    private interface IRows { static abstract Vector512<float> Load(GgmlType type, byte* row, int k); }
    private struct WeightRows : IRows
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(GgmlType type, byte* row, int k)
        {
            Sse.Prefetch0(row + ((long)k << (type == GgmlType.F32 ? 2 : 1)) + 512);
            return Load16(type, row, k);
        }
    }
    private struct ActivationRows : IRows
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(GgmlType type, byte* row, int k)
        {
            Sse.Prefetch0((float*)row + k + 128);
            return Rounded16(type, (float*)row + k);
        }
    }

    /// <summary>Columns k..k+15 of 16 rows (those from <paramref name="valid"/> on are zero), transposed:
    /// dst[c·stride + i] = row i, column k + c, for i &lt; 16 (stride 32: a weight panel) or i &lt; 12 (stride 12: an
    /// activation tile, which holds 12 tokens). Unpack pairs of floats, then pairs of doubles, then two rounds of
    /// 128-bit lane shuffles (the usual AVX-512 sequence), all in registers. Too large to inline: compiled optimized
    /// at once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose16<T>(GgmlType type, byte* w, long rowBytes, int valid, int k, float* dst, int stride) where T : struct, IRows
    {
        var a0 = valid > 0 ? T.Load(type, w, k) : Vector512<float>.Zero;
        var a1 = valid > 1 ? T.Load(type, w + 1 * rowBytes, k) : Vector512<float>.Zero;
        var a2 = valid > 2 ? T.Load(type, w + 2 * rowBytes, k) : Vector512<float>.Zero;
        var a3 = valid > 3 ? T.Load(type, w + 3 * rowBytes, k) : Vector512<float>.Zero;
        var a4 = valid > 4 ? T.Load(type, w + 4 * rowBytes, k) : Vector512<float>.Zero;
        var a5 = valid > 5 ? T.Load(type, w + 5 * rowBytes, k) : Vector512<float>.Zero;
        var a6 = valid > 6 ? T.Load(type, w + 6 * rowBytes, k) : Vector512<float>.Zero;
        var a7 = valid > 7 ? T.Load(type, w + 7 * rowBytes, k) : Vector512<float>.Zero;
        var a8 = valid > 8 ? T.Load(type, w + 8 * rowBytes, k) : Vector512<float>.Zero;
        var a9 = valid > 9 ? T.Load(type, w + 9 * rowBytes, k) : Vector512<float>.Zero;
        var a10 = valid > 10 ? T.Load(type, w + 10 * rowBytes, k) : Vector512<float>.Zero;
        var a11 = valid > 11 ? T.Load(type, w + 11 * rowBytes, k) : Vector512<float>.Zero;
        var a12 = valid > 12 ? T.Load(type, w + 12 * rowBytes, k) : Vector512<float>.Zero;
        var a13 = valid > 13 ? T.Load(type, w + 13 * rowBytes, k) : Vector512<float>.Zero;
        var a14 = valid > 14 ? T.Load(type, w + 14 * rowBytes, k) : Vector512<float>.Zero;
        var a15 = valid > 15 ? T.Load(type, w + 15 * rowBytes, k) : Vector512<float>.Zero;
        // t: rows 2i and 2i+1 interleaved (columns 0,1 | 4,5 | ... in the low, 2,3 | 6,7 | ... in the high).
        var t0 = Avx512F.UnpackLow(a0, a1); var t1 = Avx512F.UnpackHigh(a0, a1);
        var t2 = Avx512F.UnpackLow(a2, a3); var t3 = Avx512F.UnpackHigh(a2, a3);
        var t4 = Avx512F.UnpackLow(a4, a5); var t5 = Avx512F.UnpackHigh(a4, a5);
        var t6 = Avx512F.UnpackLow(a6, a7); var t7 = Avx512F.UnpackHigh(a6, a7);
        var t8 = Avx512F.UnpackLow(a8, a9); var t9 = Avx512F.UnpackHigh(a8, a9);
        var t10 = Avx512F.UnpackLow(a10, a11); var t11 = Avx512F.UnpackHigh(a10, a11);
        var t12 = Avx512F.UnpackLow(a12, a13); var t13 = Avx512F.UnpackHigh(a12, a13);
        var t14 = Avx512F.UnpackLow(a14, a15); var t15 = Avx512F.UnpackHigh(a14, a15);
        // u[4g + j]: rows 4g..4g+3 of columns j, j+4, j+8, j+12 (one per 128-bit lane).
        var u0 = Avx512F.UnpackLow(t0.AsDouble(), t2.AsDouble()).AsSingle(); var u1 = Avx512F.UnpackHigh(t0.AsDouble(), t2.AsDouble()).AsSingle();
        var u2 = Avx512F.UnpackLow(t1.AsDouble(), t3.AsDouble()).AsSingle(); var u3 = Avx512F.UnpackHigh(t1.AsDouble(), t3.AsDouble()).AsSingle();
        var u4 = Avx512F.UnpackLow(t4.AsDouble(), t6.AsDouble()).AsSingle(); var u5 = Avx512F.UnpackHigh(t4.AsDouble(), t6.AsDouble()).AsSingle();
        var u6 = Avx512F.UnpackLow(t5.AsDouble(), t7.AsDouble()).AsSingle(); var u7 = Avx512F.UnpackHigh(t5.AsDouble(), t7.AsDouble()).AsSingle();
        var u8 = Avx512F.UnpackLow(t8.AsDouble(), t10.AsDouble()).AsSingle(); var u9 = Avx512F.UnpackHigh(t8.AsDouble(), t10.AsDouble()).AsSingle();
        var u10 = Avx512F.UnpackLow(t9.AsDouble(), t11.AsDouble()).AsSingle(); var u11 = Avx512F.UnpackHigh(t9.AsDouble(), t11.AsDouble()).AsSingle();
        var u12 = Avx512F.UnpackLow(t12.AsDouble(), t14.AsDouble()).AsSingle(); var u13 = Avx512F.UnpackHigh(t12.AsDouble(), t14.AsDouble()).AsSingle();
        var u14 = Avx512F.UnpackLow(t13.AsDouble(), t15.AsDouble()).AsSingle(); var u15 = Avx512F.UnpackHigh(t13.AsDouble(), t15.AsDouble()).AsSingle();
        // Lanes of row groups (0,1) and (2,3): columns j and j+8 (lo), j+4 and j+12 (hi); then the four groups together.
        var lo010 = Avx512F.Shuffle4x128(u0, u4, 0x88); var hi010 = Avx512F.Shuffle4x128(u0, u4, 0xDD);
        var lo230 = Avx512F.Shuffle4x128(u8, u12, 0x88); var hi230 = Avx512F.Shuffle4x128(u8, u12, 0xDD);
        Put(Avx512F.Shuffle4x128(lo010, lo230, 0x88), dst + 0 * stride, stride); Put(Avx512F.Shuffle4x128(lo010, lo230, 0xDD), dst + 8 * stride, stride);
        Put(Avx512F.Shuffle4x128(hi010, hi230, 0x88), dst + 4 * stride, stride); Put(Avx512F.Shuffle4x128(hi010, hi230, 0xDD), dst + 12 * stride, stride);
        var lo011 = Avx512F.Shuffle4x128(u1, u5, 0x88); var hi011 = Avx512F.Shuffle4x128(u1, u5, 0xDD);
        var lo231 = Avx512F.Shuffle4x128(u9, u13, 0x88); var hi231 = Avx512F.Shuffle4x128(u9, u13, 0xDD);
        Put(Avx512F.Shuffle4x128(lo011, lo231, 0x88), dst + 1 * stride, stride); Put(Avx512F.Shuffle4x128(lo011, lo231, 0xDD), dst + 9 * stride, stride);
        Put(Avx512F.Shuffle4x128(hi011, hi231, 0x88), dst + 5 * stride, stride); Put(Avx512F.Shuffle4x128(hi011, hi231, 0xDD), dst + 13 * stride, stride);
        var lo012 = Avx512F.Shuffle4x128(u2, u6, 0x88); var hi012 = Avx512F.Shuffle4x128(u2, u6, 0xDD);
        var lo232 = Avx512F.Shuffle4x128(u10, u14, 0x88); var hi232 = Avx512F.Shuffle4x128(u10, u14, 0xDD);
        Put(Avx512F.Shuffle4x128(lo012, lo232, 0x88), dst + 2 * stride, stride); Put(Avx512F.Shuffle4x128(lo012, lo232, 0xDD), dst + 10 * stride, stride);
        Put(Avx512F.Shuffle4x128(hi012, hi232, 0x88), dst + 6 * stride, stride); Put(Avx512F.Shuffle4x128(hi012, hi232, 0xDD), dst + 14 * stride, stride);
        var lo013 = Avx512F.Shuffle4x128(u3, u7, 0x88); var hi013 = Avx512F.Shuffle4x128(u3, u7, 0xDD);
        var lo233 = Avx512F.Shuffle4x128(u11, u15, 0x88); var hi233 = Avx512F.Shuffle4x128(u11, u15, 0xDD);
        Put(Avx512F.Shuffle4x128(lo013, lo233, 0x88), dst + 3 * stride, stride); Put(Avx512F.Shuffle4x128(lo013, lo233, 0xDD), dst + 11 * stride, stride);
        Put(Avx512F.Shuffle4x128(hi013, hi233, 0x88), dst + 7 * stride, stride); Put(Avx512F.Shuffle4x128(hi013, hi233, 0xDD), dst + 15 * stride, stride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(Vector512<float> v, float* p, int stride)
    {
        if (stride == Rows) v.Store(p);
        else
        {
            // 12 lanes, exactly: the slots after them belong to the next column (or another thread's tile).
            v.GetLower().Store(p);
            v.GetUpper().GetLower().Store(p + 8);
        }
    }
}
