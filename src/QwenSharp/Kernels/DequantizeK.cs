using QwenSharp.Tensors;
using static QwenSharp.Kernels.FloatFormats;

namespace QwenSharp.Kernels;

// The K-quants (256 values per super-block), as ggml's dequantize_row_q{2..6}_K.
public static unsafe partial class Dequantize
{
    internal static void Q2_K(BlockQ2_K* b, float* y)
    {
        float d = HalfToSingle(b->D), min = HalfToSingle(b->DMin);
        byte* q = (byte*)&b->Qs;
        byte* scales = (byte*)&b->Scales;
        int i = 0;
        for (int n = 0; n < 256; n += 128)
        {
            int shift = 0;
            for (int j = 0; j < 4; j++)
            {
                byte sc = scales[i++];
                float dl = d * (sc & 0x0F), ml = min * (sc >> 4);
                for (int l = 0; l < 16; l++) *y++ = dl * ((q[l] >> shift) & 3) - ml;
                sc = scales[i++];
                dl = d * (sc & 0x0F); ml = min * (sc >> 4);
                for (int l = 0; l < 16; l++) *y++ = dl * ((q[l + 16] >> shift) & 3) - ml;
                shift += 2;
            }
            q += 32;
        }
    }

    internal static void Q3_K(BlockQ3_K* b, float* y)
    {
        float dAll = HalfToSingle(b->D);
        sbyte* scales = stackalloc sbyte[16];
        KQuantScales.UnpackQ3K((byte*)&b->Scales, scales);
        byte* q = (byte*)&b->Qs;
        byte* hm = (byte*)&b->HMask;
        int i = 0;
        int m = 1;
        for (int n = 0; n < 256; n += 128)
        {
            int shift = 0;
            for (int j = 0; j < 4; j++)
            {
                float dl = dAll * (scales[i++] - 32);
                for (int l = 0; l < 16; l++) *y++ = dl * (((q[l] >> shift) & 3) - ((hm[l] & m) != 0 ? 0 : 4));
                dl = dAll * (scales[i++] - 32);
                for (int l = 0; l < 16; l++) *y++ = dl * (((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) != 0 ? 0 : 4));
                shift += 2;
                m <<= 1;
            }
            q += 32;
        }
    }

    internal static void Q4_K(BlockQ4_K* b, float* y)
    {
        float d = HalfToSingle(b->D), min = HalfToSingle(b->DMin);
        byte* q = (byte*)&b->Qs;
        byte* scales = (byte*)&b->Scales;
        int s = 0;
        for (int j = 0; j < 256; j += 64)
        {
            KQuantScales.ScaleMinK4(s, scales, out int sc, out int m);
            float d1 = d * sc, m1 = min * m;
            KQuantScales.ScaleMinK4(s + 1, scales, out sc, out m);
            float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0x0F) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
            q += 32;
            s += 2;
        }
    }

    internal static void Q5_K(BlockQ5_K* b, float* y)
    {
        float d = HalfToSingle(b->D), min = HalfToSingle(b->DMin);
        byte* ql = (byte*)&b->Qs;
        byte* qh = (byte*)&b->Qh;
        byte* scales = (byte*)&b->Scales;
        int s = 0;
        int u1 = 1, u2 = 2;
        for (int j = 0; j < 256; j += 64)
        {
            KQuantScales.ScaleMinK4(s, scales, out int sc, out int m);
            float d1 = d * sc, m1 = min * m;
            KQuantScales.ScaleMinK4(s + 1, scales, out sc, out m);
            float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0x0F) + ((qh[l] & u1) != 0 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - m2;
            ql += 32;
            s += 2;
            u1 <<= 2;
            u2 <<= 2;
        }
    }

    internal static void Q6_K(BlockQ6_K* b, float* y)
    {
        float d = HalfToSingle(b->D);
        byte* ql = (byte*)&b->Ql;
        byte* qh = (byte*)&b->Qh;
        sbyte* sc = (sbyte*)&b->Scales;
        for (int n = 0; n < 256; n += 128)
        {
            for (int l = 0; l < 32; l++)
            {
                int s = l / 16;
                int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[s] * q1;
                y[l + 32] = d * sc[s + 2] * q2;
                y[l + 64] = d * sc[s + 4] * q3;
                y[l + 96] = d * sc[s + 6] * q4;
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}
