using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels.Arm64;

/// <summary>
/// <see cref="KvRows.Widen"/> on ARM64 Advanced SIMD: F16 by the same bits as <see cref="Arm64FloatDot.Half"/> (sign-extend
/// and shift by 13 in one widening shift, clear the sign's copies, multiply by 2^112), BF16 by zipping under zeros,
/// Q8_0 by two sign-extending widenings and an int→float conversion. Twin: <see cref="KvRows.WidenPlain"/>.
/// </summary>
internal static unsafe class Arm64KvRows
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Widen(KvCacheType type, byte* src, float* dst, int n)
    {
        int i = 0;
        switch (type)
        {
            case KvCacheType.F32:
                for (; i + 4 <= n; i += 4) AdvSimd.Store(dst + i, AdvSimd.LoadVector128((float*)src + i));
                break;
            case KvCacheType.F16:
            {
                var keep = Vector128.Create(unchecked((int)0x8FFFFFFF));
                var rebias = Vector128.Create(5.192296858534828e33f); // 2^112
                for (; i + 8 <= n; i += 8)
                {
                    var h = AdvSimd.LoadVector128((short*)src + i);
                    AdvSimd.Store(dst + i, AdvSimd.Multiply(AdvSimd.And(AdvSimd.ShiftLeftLogicalWideningLower(h.GetLower(), 13), keep).AsSingle(), rebias));
                    AdvSimd.Store(dst + i + 4, AdvSimd.Multiply(AdvSimd.And(AdvSimd.ShiftLeftLogicalWideningUpper(h, 13), keep).AsSingle(), rebias));
                }
                break;
            }
            case KvCacheType.BF16:
            {
                // Zipped under zeros, each bf16 becomes the upper half of a 32-bit lane: its f32.
                var zero = Vector128<ushort>.Zero;
                for (; i + 8 <= n; i += 8)
                {
                    var h = AdvSimd.LoadVector128((ushort*)src + i);
                    AdvSimd.Store(dst + i, AdvSimd.Arm64.ZipLow(zero, h).AsSingle());
                    AdvSimd.Store(dst + i + 4, AdvSimd.Arm64.ZipHigh(zero, h).AsSingle());
                }
                break;
            }
            default:
                for (; i + 32 <= n; i += 32)
                {
                    byte* block = src + i / 32 * KvCacheTypes.Q8BlockBytes;
                    var d = Vector128.Create(FloatFormats.HalfTable[*(ushort*)block]);
                    sbyte* q = (sbyte*)(block + 2);
                    for (int k = 0; k < 32; k += 16)
                    {
                        var b = AdvSimd.LoadVector128(q + k);
                        var lo = AdvSimd.SignExtendWideningLower(b.GetLower());
                        var hi = AdvSimd.SignExtendWideningUpper(b);
                        float* o = dst + i + k;
                        AdvSimd.Store(o, AdvSimd.Multiply(AdvSimd.ConvertToSingle(AdvSimd.SignExtendWideningLower(lo.GetLower())), d));
                        AdvSimd.Store(o + 4, AdvSimd.Multiply(AdvSimd.ConvertToSingle(AdvSimd.SignExtendWideningUpper(lo)), d));
                        AdvSimd.Store(o + 8, AdvSimd.Multiply(AdvSimd.ConvertToSingle(AdvSimd.SignExtendWideningLower(hi.GetLower())), d));
                        AdvSimd.Store(o + 12, AdvSimd.Multiply(AdvSimd.ConvertToSingle(AdvSimd.SignExtendWideningUpper(hi)), d));
                    }
                }
                return;
        }
        int width = type == KvCacheType.F32 ? 4 : 2;
        if (i < n) KvRows.WidenPlain(type, src + (long)i * width, dst + i, n - i);
    }
}
