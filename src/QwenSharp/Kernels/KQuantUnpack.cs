using QwenSharp.Tensors;
using static QwenSharp.Kernels.FloatFormats;

namespace QwenSharp.Kernels;

/// <summary>
/// One K-quant super-block as integers: 256 quants (signed where the format centres them), an integer scale
/// and min per group of 16, and the two float factors, so that value[i] = d·scale[i/16]·q[i] − dmin·min[i/16]
/// reproduces ggml's dequantize_row_qN_K. Used by the plain dot products.
/// </summary>
internal static unsafe class KQuantUnpack
{
    public static void Block(GgmlType type, byte* block, sbyte* q, int* scales, int* mins, out float d, out float dmin)
    {
        switch (type)
        {
            case GgmlType.Q2_K:
            {
                var b = (BlockQ2_K*)block;
                d = HalfToSingle(b->D);
                dmin = HalfToSingle(b->DMin);
                byte* qs = (byte*)&b->Qs;
                byte* sc = (byte*)&b->Scales;
                for (int g = 0; g < 16; g++) { scales[g] = sc[g] & 0x0F; mins[g] = sc[g] >> 4; }
                // Group order of dequantize_row_q2_K: per 128 values, 4 shifts × (16 from qs[0..16], 16 from qs[16..32]).
                int o = 0;
                for (int n = 0; n < 2; n++)
                    for (int shift = 0; shift < 8; shift += 2)
                        for (int half = 0; half < 2; half++)
                            for (int l = 0; l < 16; l++)
                                q[o++] = (sbyte)((qs[32 * n + 16 * half + l] >> shift) & 3);
                break;
            }
            case GgmlType.Q3_K:
            {
                var b = (BlockQ3_K*)block;
                d = HalfToSingle(b->D);
                dmin = 0;
                sbyte* sc = stackalloc sbyte[16];
                KQuantScales.UnpackQ3K((byte*)&b->Scales, sc);
                for (int g = 0; g < 16; g++) { scales[g] = sc[g] - 32; mins[g] = 0; }
                byte* qs = (byte*)&b->Qs;
                byte* hm = (byte*)&b->HMask;
                int o = 0, m = 1;
                for (int n = 0; n < 2; n++)
                    for (int shift = 0; shift < 8; shift += 2, m <<= 1)
                        for (int half = 0; half < 2; half++)
                            for (int l = 0; l < 16; l++)
                            {
                                int idx = 16 * half + l;
                                q[o++] = (sbyte)(((qs[32 * n + idx] >> shift) & 3) - ((hm[idx] & m) != 0 ? 0 : 4));
                            }
                break;
            }
            case GgmlType.Q4_K:
            case GgmlType.Q5_K:
            {
                bool five = type == GgmlType.Q5_K;
                byte* packed = five ? (byte*)&((BlockQ5_K*)block)->Scales : (byte*)&((BlockQ4_K*)block)->Scales;
                byte* ql = five ? (byte*)&((BlockQ5_K*)block)->Qs : (byte*)&((BlockQ4_K*)block)->Qs;
                byte* qh = five ? (byte*)&((BlockQ5_K*)block)->Qh : null;
                ushort dBits = *(ushort*)block, dminBits = *((ushort*)block + 1);
                d = HalfToSingle(dBits);
                dmin = HalfToSingle(dminBits);
                for (int j = 0; j < 8; j++)
                {
                    KQuantScales.ScaleMinK4(j, packed, out int sc, out int mn);
                    scales[2 * j] = scales[2 * j + 1] = sc;
                    mins[2 * j] = mins[2 * j + 1] = mn;
                }
                int u1 = 1, u2 = 2;
                for (int j = 0; j < 4; j++)
                {
                    for (int l = 0; l < 32; l++)
                    {
                        int lo = ql[32 * j + l] & 0x0F, hi = ql[32 * j + l] >> 4;
                        if (five)
                        {
                            if ((qh[l] & u1) != 0) lo += 16;
                            if ((qh[l] & u2) != 0) hi += 16;
                        }
                        q[64 * j + l] = (sbyte)lo;
                        q[64 * j + 32 + l] = (sbyte)hi;
                    }
                    u1 <<= 2;
                    u2 <<= 2;
                }
                break;
            }
            case GgmlType.Q6_K:
            {
                var b = (BlockQ6_K*)block;
                d = HalfToSingle(b->D);
                dmin = 0;
                sbyte* sc = (sbyte*)&b->Scales;
                for (int g = 0; g < 16; g++) { scales[g] = sc[g]; mins[g] = 0; }
                byte* ql = (byte*)&b->Ql;
                byte* qh = (byte*)&b->Qh;
                for (int n = 0; n < 2; n++)
                {
                    sbyte* y = q + 128 * n;
                    for (int l = 0; l < 32; l++)
                    {
                        y[l] = (sbyte)(((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32);
                        y[l + 32] = (sbyte)(((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32);
                        y[l + 64] = (sbyte)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                        y[l + 96] = (sbyte)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
                    }
                    ql += 64;
                    qh += 32;
                }
                break;
            }
            default:
                throw new NotSupportedException($"{type} is not a K-quant.");
        }
    }
}
