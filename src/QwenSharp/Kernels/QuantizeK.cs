using QwenSharp.Tensors;
using static QwenSharp.Kernels.FloatFormats;

namespace QwenSharp.Kernels;

// K-quant reference quantizers: quantize_row_q4_K_ref, q5_K_ref, q6_K_ref (Q2_K and Q3_K: QuantizeK23.cs) with their search helpers
// make_qkx2_quants (scale + min, weighted least squares over a few candidate scales) and make_qx_quants
// (symmetric, rmse_type 1). No importance matrix.
public static unsafe partial class Quantize
{
    private const float GroupMaxEps = 1e-15f;

    private static void Q4_K(float* x, BlockQ4_K* y, bool lanes) => Q45K(x, (byte*)&y->Scales, &y->D, &y->DMin, 15, y, null, lanes);

    private static void Q5_K(float* x, BlockQ5_K* y, bool lanes) => Q45K(x, (byte*)&y->Scales, &y->D, &y->DMin, 31, null, y, lanes);

    /// <summary>The shared body of quantize_row_q4_K_ref and quantize_row_q5_K_ref (nmax 15 or 31); with
    /// <paramref name="lanes"/> the searches run eight sub-blocks at a time (QuantizeKLanes.cs), same bytes.</summary>
    private static void Q45K(float* x, byte* packed, ushort* dOut, ushort* dminOut, int nmax, BlockQ4_K* y4, BlockQ5_K* y5, bool lanes)
    {
        byte* L = stackalloc byte[256];
        byte* laux = stackalloc byte[32];
        float* weights = stackalloc float[32];
        float* mins = stackalloc float[8];
        float* scales = stackalloc float[8];
        float maxScale = 0, maxMin = 0;
        if (lanes)
        {
            if (nmax == 15) Qkx2Lanes(x, 15, -1f, 0.1f, 20, L, scales, mins);
            else Qkx2Lanes(x, 31, -0.5f, 0.1f, 15, L, scales, mins);
        }
        for (int j = 0; j < 8; j++)
        {
            if (lanes)
            {
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
                continue;
            }
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += x[32 * j + l] * x[32 * j + l];
            float avX = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = avX + MathF.Abs(x[32 * j + l]);
            scales[j] = nmax == 15
                ? MakeQkx2Quants(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j], laux, -1f, 0.1f, 20)
                : MakeQkx2Quants(32, 31, x + 32 * j, weights, L + 32 * j, &mins[j], laux, -0.5f, 0.1f, 15);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        for (int j = 0; j < 12; j++) packed[j] = 0;
        for (int j = 0; j < 8; j++)
        {
            int ls = Math.Min(63, NearestInt(invScale * scales[j]));
            int lm = Math.Min(63, NearestInt(invMin * mins[j]));
            if (j < 4)
            {
                packed[j] = (byte)ls;
                packed[j + 4] = (byte)lm;
            }
            else
            {
                packed[j + 4] = (byte)((ls & 0x0F) | ((lm & 0x0F) << 4));
                packed[j - 4] |= (byte)((ls >> 4) << 6);
                packed[j] |= (byte)((lm >> 4) << 6);
            }
        }
        *dOut = SingleToHalf(maxScale / 63f);
        *dminOut = SingleToHalf(maxMin / 63f);
        for (int j = 0; j < 8; j++)
        {
            KQuantScales.ScaleMinK4(j, packed, out int sc, out int m);
            float d = HalfToSingle(*dOut) * sc;
            if (d == 0) continue;
            float dm = HalfToSingle(*dminOut) * m;
            if (lanes)
            {
                LevelsWithMinLanes(x + 32 * j, dm, d, nmax, L + 32 * j);
                continue;
            }
            for (int ii = 0; ii < 32; ii++)
            {
                int l = NearestInt((x[32 * j + ii] + dm) / d);
                L[32 * j + ii] = (byte)Math.Max(0, Math.Min(nmax, l));
            }
        }
        if (y4 != null)
        {
            byte* q = (byte*)&y4->Qs;
            for (int j = 0; j < 256; j += 64)
            {
                for (int l = 0; l < 32; l++) q[l] = (byte)(L[j + l] | (L[j + l + 32] << 4));
                q += 32;
            }
        }
        else
        {
            byte* qh = (byte*)&y5->Qh;
            byte* ql = (byte*)&y5->Qs;
            for (int j = 0; j < 32; j++) qh[j] = 0;
            int m1 = 1, m2 = 2;
            for (int n = 0; n < 256; n += 64)
            {
                for (int j = 0; j < 32; j++)
                {
                    int l1 = L[n + j];
                    if (l1 > 15) { l1 -= 16; qh[j] |= (byte)m1; }
                    int l2 = L[n + j + 32];
                    if (l2 > 15) { l2 -= 16; qh[j] |= (byte)m2; }
                    ql[j] = (byte)(l1 | (l2 << 4));
                }
                m1 <<= 2;
                m2 <<= 2;
                ql += 32;
            }
        }
    }

    /// <summary>make_qkx2_quants: the error is weighted squared (Q4_K, Q5_K) or, with <paramref name="useMad"/>,
    /// weighted absolute (Q2_K).</summary>
    private static float MakeQkx2Quants(int n, int nmax, float* x, float* weights, byte* L, float* theMin,
        byte* laux, float rmin, float rdelta, int nstep, bool useMad = false)
    {
        float min = x[0], max = x[0];
        float sumW = weights[0], sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            for (int i = 0; i < n; i++) L[i] = 0;
            *theMin = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            int l = NearestInt(iscale * (x[i] - min));
            L[i] = (byte)Math.Max(0, Math.Min(nmax, l));
            float diff = scale * L[i] + min - x[i];
            bestError += weights[i] * (useMad ? MathF.Abs(diff) : diff * diff);
        }
        for (int s = 0; s <= nstep; s++)
        {
            iscale = (rmin + rdelta * s + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Max(0, Math.Min(nmax, NearestInt(iscale * (x[i] - min))));
                laux[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }
            float D = sumW * sumL2 - sumL * sumL;
            if (D > 0)
            {
                float thisScale = (sumW * sumXL - sumX * sumL) / D;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / D;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * laux[i] + thisMin - x[i];
                    curError += weights[i] * (useMad ? MathF.Abs(diff) : diff * diff);
                }
                if (curError < bestError)
                {
                    for (int i = 0; i < n; i++) L[i] = laux[i];
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        *theMin = -min;
        return scale;
    }

    private static void Q6_K(float* x, BlockQ6_K* y, bool lanes)
    {
        sbyte* L = stackalloc sbyte[256];
        float* scales = stackalloc float[16];
        float maxScale = 0, maxAbsScale = 0;
        if (lanes)
        {
            QxLanes(x, 32, L, scales);
            QxLanes(x + 128, 32, L + 128, scales + 8);
        }
        for (int ib = 0; ib < 16; ib++)
        {
            float scale = lanes ? scales[ib] : MakeQxQuants(16, 32, x + 16 * ib, L + 16 * ib);
            scales[ib] = scale;
            float abs = MathF.Abs(scale);
            if (abs > maxAbsScale) { maxAbsScale = abs; maxScale = scale; }
        }
        byte* ql = (byte*)&y->Ql;
        byte* qh = (byte*)&y->Qh;
        sbyte* ys = (sbyte*)&y->Scales;
        if (maxAbsScale < GroupMaxEps)
        {
            new Span<byte>(y, sizeof(BlockQ6_K)).Clear();
            y->D = SingleToHalf(0f);
            return;
        }
        float iscale = -128f / maxScale;
        y->D = SingleToHalf(1 / iscale);
        for (int ib = 0; ib < 16; ib++) ys[ib] = (sbyte)Math.Min(127, NearestInt(iscale * scales[ib]));
        for (int j = 0; j < 16; j++)
        {
            float d = HalfToSingle(y->D) * ys[j];
            if (d == 0) continue;
            if (lanes)
            {
                LevelsSymmetricLanes(x + 16 * j, d, L + 16 * j);
                continue;
            }
            for (int ii = 0; ii < 16; ii++)
            {
                int l = Math.Max(-32, Math.Min(31, NearestInt(x[16 * j + ii] / d)));
                L[16 * j + ii] = (sbyte)(l + 32);
            }
        }
        for (int j = 0; j < 256; j += 128)
        {
            for (int l = 0; l < 32; l++)
            {
                int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                ql[l] = (byte)(q1 | (q3 << 4));
                ql[l + 32] = (byte)(q2 | (q4 << 4));
                qh[l] = (byte)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
            }
            ql += 64;
            qh += 32;
        }
    }

    /// <summary>make_qx_quants with rmse_type 1 (weights x²), the path quantize_row_q6_K_ref takes.
    /// Stores l + nmax in L and returns the scale.</summary>
    private static float MakeQxQuants(int n, int nmax, float* x, sbyte* L)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < GroupMaxEps)
        {
            for (int i = 0; i < n; i++) L[i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i])));
            L[i] = (sbyte)(l + nmax);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0f;
        float best = scale * sumlx;
        for (int s = -9; s <= 9; s++)
        {
            if (s == 0) continue;
            iscale = -(nmax + 0.1f * s) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i])));
                float w = x[i] * x[i];
                sumlx += w * x[i] * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2)
            {
                for (int i = 0; i < n; i++)
                    L[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i]))));
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }
}
