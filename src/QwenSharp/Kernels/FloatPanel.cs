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

    /// <summary>16 values rounded as <see cref="RoundScalar"/>, on bits: the software (Half) conversion costs more than
    /// the whole GEMM's per-element share.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Round16(GgmlType type, float* src, float* dst)
    {
        if (!Vector512.IsHardwareAccelerated || type == GgmlType.F32)
        {
            for (int i = 0; i < 16; i++) dst[i] = RoundScalar(type, src[i]);
            return;
        }
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
        r.AsSingle().Store(dst);
    }

    /// <summary>Converts rows 0..<paramref name="rows"/>−1 (≤ 32) of W (starting at <paramref name="w"/>) into a
    /// transposed f32 panel of 32 × <paramref name="cols"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    public static void PackWeights(GgmlType type, byte* w, long rowBytes, int rows, int cols, float* panel)
    {
        int k = 0;
        if (Avx512F.IsSupported)
        {
            var block = stackalloc Vector512<float>[48]; // 16 rows, the transpose's middle stage, 16 columns
            for (; k + 16 <= cols; k += 16)
                for (int h = 0; h < Rows; h += 16)
                {
                    for (int i = 0; i < 16; i++)
                        block[i] = h + i < rows ? Load16(type, w + (h + i) * rowBytes, k) : Vector512<float>.Zero;
                    Transpose16(block, block + 16, block + 32);
                    float* p = panel + (long)k * Rows + h;
                    for (int i = 0; i < 16; i++) block[32 + i].Store(p + i * Rows);
                }
        }
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

    /// <summary>16 × 16 transpose, dst[c] = column c of src[0..15]: unpack pairs of floats, then pairs of doubles,
    /// then two rounds of 128-bit lane shuffles (the usual AVX-512 sequence). src is overwritten.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose16(Vector512<float>* src, Vector512<float>* t, Vector512<float>* dst)
    {
        // t[2i], t[2i+1]: rows 2i and 2i+1 interleaved (columns 0,1 | 4,5 | ... and 2,3 | 6,7 | ...).
        for (int i = 0; i < 16; i += 2)
        {
            t[i] = Avx512F.UnpackLow(src[i], src[i + 1]);
            t[i + 1] = Avx512F.UnpackHigh(src[i], src[i + 1]);
        }
        // u[4g + j]: rows 4g..4g+3 of columns j, j+4, j+8, j+12 (one per 128-bit lane).
        var u = src;
        for (int g = 0; g < 16; g += 4)
        {
            u[g] = Avx512F.UnpackLow(t[g].AsDouble(), t[g + 2].AsDouble()).AsSingle();
            u[g + 1] = Avx512F.UnpackHigh(t[g].AsDouble(), t[g + 2].AsDouble()).AsSingle();
            u[g + 2] = Avx512F.UnpackLow(t[g + 1].AsDouble(), t[g + 3].AsDouble()).AsSingle();
            u[g + 3] = Avx512F.UnpackHigh(t[g + 1].AsDouble(), t[g + 3].AsDouble()).AsSingle();
        }
        for (int j = 0; j < 4; j++)
        {
            // Lanes of row groups (0,1) and (2,3): columns j and j+8 (lo), j+4 and j+12 (hi).
            var lo01 = Avx512F.Shuffle4x128(u[j], u[4 + j], 0x88);
            var hi01 = Avx512F.Shuffle4x128(u[j], u[4 + j], 0xDD);
            var lo23 = Avx512F.Shuffle4x128(u[8 + j], u[12 + j], 0x88);
            var hi23 = Avx512F.Shuffle4x128(u[8 + j], u[12 + j], 0xDD);
            dst[j] = Avx512F.Shuffle4x128(lo01, lo23, 0x88);
            dst[j + 8] = Avx512F.Shuffle4x128(lo01, lo23, 0xDD);
            dst[j + 4] = Avx512F.Shuffle4x128(hi01, hi23, 0x88);
            dst[j + 12] = Avx512F.Shuffle4x128(hi01, hi23, 0xDD);
        }
    }
}
