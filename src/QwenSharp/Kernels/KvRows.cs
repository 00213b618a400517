using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

/// <summary>
/// Rows of the KV cache between f32 and the cache's type. <see cref="Narrow"/> runs once per token written (scalar:
/// ggml's rounding, quantize_row_q8_0 for Q8_0); <see cref="Widen"/> runs on every key and value row attention reads,
/// converting in registers as they are loaded. .NET 10 exposes no vcvtph2ps, so F16 converts by bits as
/// <see cref="HalfDot"/> does ((exponent|mantissa) &lt;&lt; 13 times 2^112, exact for finite halves, sign put back);
/// the cache holds finite halves only, since <see cref="Narrow"/> saturates at ±65504 where ggml would store ±inf
/// (an infinite key makes every score of the row NaN). BF16 is the upper half of an f32 (a shift); Q8_0 is
/// 32 signed bytes times the block's fp16 scale. ARM64: <see cref="Arm64.Arm64KvRows"/>. Twin: <see cref="WidenPlain"/>.
/// </summary>
public static unsafe class KvRows
{
    /// <summary>n values at <paramref name="src"/> (in <paramref name="type"/>'s layout; n a multiple of 32 for Q8_0) as f32 at <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Widen(KvCacheType type, byte* src, float* dst, int n)
    {
        if (KernelTiers.Avx512) Widen512(type, src, dst, n);
        else if (KernelTiers.X86) Widen256(type, src, dst, n);
        else if (KernelTiers.Neon) Arm64.Arm64KvRows.Widen(type, src, dst, n);
        else WidenPlain(type, src, dst, n);
    }

    /// <summary><paramref name="rows"/> rows of n values, <paramref name="strideBytes"/> apart in the cache, to [rows, n] f32.</summary>
    public static void WidenRows(KvCacheType type, byte* src, long strideBytes, int rows, int n, float* dst)
    {
        for (int r = 0; r < rows; r++) Widen(type, src + r * strideBytes, dst + (long)r * n, n);
    }

    /// <summary>The twin: value by value, through ggml's table of all fp16 patterns.</summary>
    public static void WidenPlain(KvCacheType type, byte* src, float* dst, int n)
    {
        switch (type)
        {
            case KvCacheType.F32:
                for (int i = 0; i < n; i++) dst[i] = ((float*)src)[i];
                break;
            case KvCacheType.F16:
                for (int i = 0; i < n; i++) dst[i] = FloatFormats.HalfTable[((ushort*)src)[i]];
                break;
            case KvCacheType.BF16:
                for (int i = 0; i < n; i++) dst[i] = FloatFormats.BFloat16ToSingle(((ushort*)src)[i]);
                break;
            default:
                for (int b = 0; b < n / KvCacheTypes.Q8Block; b++)
                {
                    byte* block = src + b * KvCacheTypes.Q8BlockBytes;
                    float d = FloatFormats.HalfTable[*(ushort*)block];
                    for (int j = 0; j < KvCacheTypes.Q8Block; j++) dst[b * KvCacheTypes.Q8Block + j] = ((sbyte*)(block + 2))[j] * d;
                }
                break;
        }
    }

    /// <summary>n f32 values into <paramref name="type"/>'s layout at <paramref name="dst"/>: fp16 rounded to nearest even and
    /// saturated at ±65504; bf16 and Q8_0 by ggml's reference quantizers (<see cref="Quantize.Row"/>: quantize_row_q8_0_ref,
    /// scale amax/127, rounding half away from zero).</summary>
    public static void Narrow(KvCacheType type, float* src, byte* dst, int n)
    {
        switch (type)
        {
            case KvCacheType.F32:
                Buffer.MemoryCopy(src, dst, n * sizeof(float), n * sizeof(float));
                break;
            case KvCacheType.F16:
                for (int i = 0; i < n; i++) ((ushort*)dst)[i] = FloatFormats.SingleToHalf(Math.Clamp(src[i], -65504f, 65504f));
                break;
            default:
                var ggml = type == KvCacheType.BF16 ? GgmlType.BF16 : GgmlType.Q8_0;
                Quantize.Row(ggml, new ReadOnlySpan<float>(src, n), new Span<byte>(dst, (int)type.Bytes(n)));
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen512(KvCacheType type, byte* src, float* dst, int n)
    {
        int i = 0;
        switch (type)
        {
            case KvCacheType.F32:
                for (; i + 16 <= n; i += 16) Vector512.Load((float*)src + i).Store(dst + i);
                break;
            case KvCacheType.F16:
            {
                var mask = Vector512.Create(0x7fff);
                var sign = Vector512.Create(int.MinValue).AsSingle();
                var rebias = Vector512.Create(5.192296858534828e33f); // 2^112
                for (; i + 16 <= n; i += 16)
                {
                    var h = Avx512F.ConvertToVector512Int32(Avx.LoadVector256((short*)src + i));
                    var f = Avx512F.Multiply(Avx512F.ShiftLeftLogical(Avx512F.And(h, mask), 13).AsSingle(), rebias);
                    Vector512.ConditionalSelect(sign, h.AsSingle(), f).Store(dst + i);
                }
                break;
            }
            case KvCacheType.BF16:
                for (; i + 16 <= n; i += 16)
                    Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Avx.LoadVector256((ushort*)src + i)), 16).AsSingle().Store(dst + i);
                break;
            default:
                for (; i + 32 <= n; i += 32)
                {
                    byte* block = src + i / 32 * KvCacheTypes.Q8BlockBytes;
                    var d = Vector512.Create(FloatFormats.HalfTable[*(ushort*)block]);
                    sbyte* q = (sbyte*)(block + 2);
                    Avx512F.Multiply(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q))), d).Store(dst + i);
                    Avx512F.Multiply(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q + 16))), d).Store(dst + i + 16);
                }
                return;
        }
        if (i < n) WidenTail(type, src, dst, i, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen256(KvCacheType type, byte* src, float* dst, int n)
    {
        int i = 0;
        switch (type)
        {
            case KvCacheType.F32:
                for (; i + 8 <= n; i += 8) Avx.Store(dst + i, Avx.LoadVector256((float*)src + i));
                break;
            case KvCacheType.F16:
            {
                // Sign-extended and shifted by 13, a half holds its sign in bit 31 (copies in 28-30, cleared) and
                // exponent|mantissa in bits 13-27: one AND and one multiply re-bias it.
                var keep = Vector256.Create(unchecked((int)0x8FFFE000));
                var rebias = Vector256.Create(5.192296858534828e33f); // 2^112
                for (; i + 8 <= n; i += 8)
                {
                    var h = Avx2.ConvertToVector256Int32((short*)src + i);
                    Avx.Store(dst + i, Avx.Multiply(Avx2.And(Avx2.ShiftLeftLogical(h, 13), keep).AsSingle(), rebias));
                }
                break;
            }
            case KvCacheType.BF16:
                for (; i + 8 <= n; i += 8)
                    Avx.Store(dst + i, Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32((ushort*)src + i), 16).AsSingle());
                break;
            default:
                for (; i + 32 <= n; i += 32)
                {
                    byte* block = src + i / 32 * KvCacheTypes.Q8BlockBytes;
                    var d = Vector256.Create(FloatFormats.HalfTable[*(ushort*)block]);
                    sbyte* q = (sbyte*)(block + 2);
                    for (int k = 0; k < 32; k += 8)
                        Avx.Store(dst + i + k, Avx.Multiply(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + k)), d));
                }
                return;
        }
        if (i < n) WidenTail(type, src, dst, i, n);
    }

    /// <summary>Values i..n of a row whose vector loop stopped at i (not for Q8_0, whose blocks are whole).</summary>
    private static void WidenTail(KvCacheType type, byte* src, float* dst, int i, int n)
    {
        int width = type == KvCacheType.F32 ? 4 : 2;
        WidenPlain(type, src + (long)i * width, dst + i, n - i);
    }
}
