using QwenSharp.Tensors;
using static QwenSharp.Kernels.FloatFormats;

namespace QwenSharp.Kernels;

/// <summary>
/// The plain twins: scalar dot products of one weight row with one activation row in the weight's
/// <see cref="ActivationQuantizer.VecDotType"/>, integer sums per block scaled by the product of the block
/// scales, as ggml's generic ggml_vec_dot_*_q8_* compute them. The fast kernels are tested against these.
/// </summary>
internal static unsafe class DotPlain
{
    public static float Dot(GgmlType weightType, byte* w, byte* a, int n) => weightType switch
    {
        GgmlType.F32 => F32((float*)w, (float*)a, n),
        GgmlType.F16 => F16((ushort*)w, (ushort*)a, n),
        GgmlType.BF16 => BF16((ushort*)w, (ushort*)a, n),
        GgmlType.Q4_0 => Q4_0((BlockQ4_0*)w, (BlockQ8_0*)a, n / 32),
        GgmlType.Q4_1 => Q4_1((BlockQ4_1*)w, (BlockQ8_1*)a, n / 32),
        GgmlType.Q5_0 => Q5_0((BlockQ5_0*)w, (BlockQ8_0*)a, n / 32),
        GgmlType.Q5_1 => Q5_1((BlockQ5_1*)w, (BlockQ8_1*)a, n / 32),
        GgmlType.Q8_0 => Q8_0((BlockQ8_0*)w, (BlockQ8_0*)a, n / 32),
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K => KQuant(weightType, w, (BlockQ8_K*)a, n / 256),
        GgmlType.IQ4_NL => IQ4_NL((BlockIQ4_NL*)w, (BlockQ8_0*)a, n / 32),
        GgmlType.IQ4_XS => IQ4_XS((BlockIQ4_XS*)w, (BlockQ8_K*)a, n / 256),
        _ => throw new NotSupportedException($"No dot product for {weightType} weights."),
    };

    public static float F32(float* w, float* a, int n)
    {
        float s = 0;
        for (int i = 0; i < n; i++) s += w[i] * a[i];
        return s;
    }

    public static float F16(ushort* w, ushort* a, int n)
    {
        float s = 0;
        for (int i = 0; i < n; i++) s += HalfToSingle(w[i]) * HalfToSingle(a[i]);
        return s;
    }

    public static float BF16(ushort* w, ushort* a, int n)
    {
        float s = 0;
        for (int i = 0; i < n; i++) s += BFloat16ToSingle(w[i]) * BFloat16ToSingle(a[i]);
        return s;
    }

    public static float Q4_0(BlockQ4_0* x, BlockQ8_0* y, int nb)
    {
        float sum = 0;
        for (int b = 0; b < nb; b++)
        {
            byte* qs = (byte*)&x[b].Qs;
            sbyte* q8 = (sbyte*)&y[b].Qs;
            int sumi = 0;
            for (int j = 0; j < 16; j++)
                sumi += ((qs[j] & 0x0F) - 8) * q8[j] + ((qs[j] >> 4) - 8) * q8[j + 16];
            sum += sumi * (HalfToSingle(x[b].D) * HalfToSingle(y[b].D));
        }
        return sum;
    }

    public static float Q4_1(BlockQ4_1* x, BlockQ8_1* y, int nb)
    {
        float sum = 0;
        for (int b = 0; b < nb; b++)
        {
            byte* qs = (byte*)&x[b].Qs;
            sbyte* q8 = (sbyte*)&y[b].Qs;
            int sumi = 0;
            for (int j = 0; j < 16; j++)
                sumi += (qs[j] & 0x0F) * q8[j] + (qs[j] >> 4) * q8[j + 16];
            sum += HalfToSingle(x[b].D) * HalfToSingle(y[b].D) * sumi + HalfToSingle(x[b].M) * HalfToSingle(y[b].S);
        }
        return sum;
    }

    public static float Q5_0(BlockQ5_0* x, BlockQ8_0* y, int nb)
    {
        float sum = 0;
        for (int b = 0; b < nb; b++)
        {
            byte* qs = (byte*)&x[b].Qs;
            sbyte* q8 = (sbyte*)&y[b].Qs;
            uint qh = x[b].Qh;
            int sumi = 0;
            for (int j = 0; j < 16; j++)
            {
                int xh0 = (int)(((qh >> j) << 4) & 0x10);
                int xh1 = (int)((qh >> (j + 12)) & 0x10);
                sumi += (((qs[j] & 0x0F) | xh0) - 16) * q8[j] + (((qs[j] >> 4) | xh1) - 16) * q8[j + 16];
            }
            sum += sumi * (HalfToSingle(x[b].D) * HalfToSingle(y[b].D));
        }
        return sum;
    }

    public static float Q5_1(BlockQ5_1* x, BlockQ8_1* y, int nb)
    {
        float sum = 0;
        for (int b = 0; b < nb; b++)
        {
            byte* qs = (byte*)&x[b].Qs;
            sbyte* q8 = (sbyte*)&y[b].Qs;
            uint qh = x[b].Qh;
            int sumi = 0;
            for (int j = 0; j < 16; j++)
            {
                int xh0 = (int)(((qh >> j) << 4) & 0x10);
                int xh1 = (int)((qh >> (j + 12)) & 0x10);
                sumi += ((qs[j] & 0x0F) | xh0) * q8[j] + ((qs[j] >> 4) | xh1) * q8[j + 16];
            }
            sum += HalfToSingle(x[b].D) * HalfToSingle(y[b].D) * sumi + HalfToSingle(x[b].M) * HalfToSingle(y[b].S);
        }
        return sum;
    }

    public static float Q8_0(BlockQ8_0* x, BlockQ8_0* y, int nb)
    {
        float sum = 0;
        for (int b = 0; b < nb; b++)
        {
            sbyte* qx = (sbyte*)&x[b].Qs;
            sbyte* qy = (sbyte*)&y[b].Qs;
            int sumi = 0;
            for (int j = 0; j < 32; j++) sumi += qx[j] * qy[j];
            sum += sumi * (HalfToSingle(x[b].D) * HalfToSingle(y[b].D));
        }
        return sum;
    }

    /// <summary>
    /// Any K-quant against Q8_K: each super-block unpacked to 256 signed quants with a scale per 16 and a min
    /// per 16, then sum += y.d·(d·Σ scale·(q·q8) − dmin·Σ min·bsum), the form every ggml_vec_dot_qN_K_q8_K reduces to.
    /// </summary>
    public static float KQuant(GgmlType type, byte* w, BlockQ8_K* y, int nb)
    {
        sbyte* q = stackalloc sbyte[256];
        int* scales = stackalloc int[16];
        int* mins = stackalloc int[16];
        int blockBytes = GgmlTypeInfo.BlockBytes(type);
        float sum = 0;
        for (int b = 0; b < nb; b++)
        {
            KQuantUnpack.Block(type, w + (long)b * blockBytes, q, scales, mins, out float d, out float dmin);
            sbyte* q8 = (sbyte*)&y[b].Qs;
            short* bsums = (short*)&y[b].BSums;
            int isum = 0, msum = 0;
            for (int g = 0; g < 16; g++)
            {
                int dot = 0;
                for (int l = 0; l < 16; l++) dot += q[16 * g + l] * q8[16 * g + l];
                isum += scales[g] * dot;
                msum += mins[g] * bsums[g];
            }
            sum += y[b].D * (d * isum - dmin * msum);
        }
        return sum;
    }

    /// <summary>IQ4_NL · Q8_0 (ggml_vec_dot_iq4_nl_q8_0): the grid levels times the 8-bit activations, per block of 32.</summary>
    public static float IQ4_NL(BlockIQ4_NL* x, BlockQ8_0* y, int nb)
    {
        var grid = Iq4NlGrid.Values;
        float sum = 0;
        for (int b = 0; b < nb; b++)
        {
            byte* qs = (byte*)&x[b].Qs;
            sbyte* q8 = (sbyte*)&y[b].Qs;
            int sumi = 0;
            for (int j = 0; j < 16; j++) sumi += q8[j] * grid[qs[j] & 0x0F] + q8[j + 16] * grid[qs[j] >> 4];
            sum += HalfToSingle(y[b].D) * HalfToSingle(x[b].D) * sumi;
        }
        return sum;
    }

    /// <summary>IQ4_XS · Q8_K (ggml_vec_dot_iq4_xs_q8_K): per group of 32 the integer sum times d·y.d·(scale − 32).</summary>
    public static float IQ4_XS(BlockIQ4_XS* x, BlockQ8_K* y, int nb)
    {
        var grid = Iq4NlGrid.Values;
        float sum = 0;
        for (int b = 0; b < nb; b++)
        {
            float d4d8 = HalfToSingle(x[b].D) * y[b].D;
            byte* qs = (byte*)&x[b].Qs;
            sbyte* q8 = (sbyte*)&y[b].Qs;
            for (int ib = 0; ib < 8; ib++)
            {
                int sumi = 0;
                for (int j = 0; j < 16; j++) sumi += q8[j] * grid[qs[j] & 0x0F] + q8[j + 16] * grid[qs[j] >> 4];
                sum += d4d8 * (Dequantize.Iq4XsScale(&x[b], ib) - 32) * sumi;
                qs += 16;
                q8 += 32;
            }
        }
        return sum;
    }
}
