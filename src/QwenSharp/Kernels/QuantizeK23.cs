using QwenSharp.Tensors;
using static QwenSharp.Kernels.FloatFormats;

namespace QwenSharp.Kernels;

// The 2- and 3-bit K-quants as llama-quantize writes them without an importance matrix: ggml's quantize_q2_K and
// quantize_q3_K then call quantize_row_q2_K_ref and quantize_row_q3_K_ref, whose math this follows (16 groups of 16
// per super-block; Q2_K fits a scale and a min per group with make_qkx2_quants' absolute-error search, Q3_K a
// symmetric scale per group with make_q3_quants' coordinate descent).
public static unsafe partial class Quantize
{
    private static void Q2_K(float* x, BlockQ2_K* y)
    {
        byte* L = stackalloc byte[256];
        byte* laux = stackalloc byte[16];
        float* weights = stackalloc float[16];
        float* mins = stackalloc float[16];
        float* scales = stackalloc float[16];
        const float q4scale = 15f;
        float maxScale = 0, maxMin = 0; // the min is subtracted, so scales are never negative
        for (int j = 0; j < 16; j++)
        {
            for (int l = 0; l < 16; l++) weights[l] = MathF.Abs(x[16 * j + l]);
            scales[j] = MakeQkx2Quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], laux, -0.5f, 0.1f, 15, useMad: true);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        byte* packed = (byte*)&y->Scales;
        if (maxScale > 0)
        {
            float iscale = q4scale / maxScale;
            for (int j = 0; j < 16; j++) packed[j] = (byte)NearestInt(iscale * scales[j]);
            y->D = SingleToHalf(maxScale / q4scale);
        }
        else
        {
            for (int j = 0; j < 16; j++) packed[j] = 0;
            y->D = SingleToHalf(0f);
        }
        if (maxMin > 0)
        {
            float iscale = q4scale / maxMin;
            for (int j = 0; j < 16; j++) packed[j] |= (byte)(NearestInt(iscale * mins[j]) << 4);
            y->DMin = SingleToHalf(maxMin / q4scale);
        }
        else
        {
            y->DMin = SingleToHalf(0f);
        }
        // Requantized against the scales as stored (fp16 d times the 4-bit factors); a group whose scale rounds to
        // zero keeps the levels of its search.
        for (int j = 0; j < 16; j++)
        {
            float d = HalfToSingle(y->D) * (packed[j] & 0x0F);
            if (d == 0) continue;
            float dm = HalfToSingle(y->DMin) * (packed[j] >> 4);
            for (int ii = 0; ii < 16; ii++)
                L[16 * j + ii] = (byte)Math.Max(0, Math.Min(3, NearestInt((x[16 * j + ii] + dm) / d)));
        }
        PackTwoBits(L, (byte*)&y->Qs);
    }

    /// <summary>Four 2-bit levels per byte: byte l of each 32-byte half holds values l, l+32, l+64, l+96 of its 128.</summary>
    private static void PackTwoBits(byte* L, byte* qs)
    {
        for (int j = 0; j < 256; j += 128)
            for (int l = 0; l < 32; l++)
                qs[j / 4 + l] = (byte)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
    }

    private static void Q3_K(float* x, BlockQ3_K* y)
    {
        sbyte* L = stackalloc sbyte[256];
        float* scales = stackalloc float[16];
        float maxScale = 0, amax = 0;
        for (int j = 0; j < 16; j++)
        {
            scales[j] = MakeQ3Quants(16, 4, x + 16 * j, L + 16 * j);
            float scale = MathF.Abs(scales[j]);
            if (scale > amax) { amax = scale; maxScale = scales[j]; }
        }
        byte* packed = (byte*)&y->Scales;
        for (int j = 0; j < 12; j++) packed[j] = 0;
        if (maxScale != 0)
        {
            // Six-bit scales biased by 32: low nibbles of 0..7 in bytes 0..7, of 8..15 in their high nibbles,
            // the top two bits of scale j in byte 8 + j%4 at bit 2·(j/4).
            float iscale = -32f / maxScale;
            for (int j = 0; j < 16; j++)
            {
                int l = Math.Max(-32, Math.Min(31, (int)(sbyte)NearestInt(iscale * scales[j]))) + 32;
                if (j < 8) packed[j] = (byte)(l & 0x0F);
                else packed[j - 8] |= (byte)((l & 0x0F) << 4);
                packed[j % 4 + 8] |= (byte)((l >> 4) << (2 * (j / 4)));
            }
            y->D = SingleToHalf(1 / iscale);
        }
        else
        {
            y->D = SingleToHalf(0f);
        }
        for (int j = 0; j < 16; j++)
        {
            int sc = j < 8 ? packed[j] & 0x0F : packed[j - 8] >> 4;
            sc = (sc | (((packed[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
            float d = HalfToSingle(y->D) * sc;
            if (d == 0) continue;
            for (int ii = 0; ii < 16; ii++)
                L[16 * j + ii] = (sbyte)(Math.Max(-4, Math.Min(3, NearestInt(x[16 * j + ii] / d))) + 4);
        }
        // The third bit (set for levels 4..7) goes to hmask: values 0..31 in bit 0 of bytes 0..31, 32..63 in bit 1, …
        byte* hmask = (byte*)&y->HMask;
        for (int j = 0; j < 32; j++) hmask[j] = 0;
        for (int j = 0; j < 256; j++)
        {
            if (L[j] > 3)
            {
                hmask[j % 32] |= (byte)(1 << (j / 32));
                L[j] -= 4;
            }
        }
        PackTwoBits((byte*)L, (byte*)&y->Qs);
    }

    /// <summary>make_q3_quants with do_rmse: levels -nmax..nmax-1 from the group's largest magnitude, then up to five
    /// sweeps that move one level at a time when that raises (Σw·x·l)²/Σw·l² (weights x²). Stores l + nmax in L.</summary>
    private static float MakeQ3Quants(int n, int nmax, float* x, sbyte* L)
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
            L[i] = (sbyte)l;
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        for (int itry = 0; itry < 5; itry++)
        {
            int changed = 0;
            for (int i = 0; i < n; i++)
            {
                float w = x[i] * x[i];
                float slx = sumlx - w * x[i] * L[i];
                if (slx <= 0) continue;
                float sl2 = suml2 - w * L[i] * L[i];
                int newL = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(x[i] * sl2 / slx)));
                if (newL == L[i]) continue;
                slx += w * x[i] * newL;
                sl2 += w * newL * newL;
                if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2)
                {
                    L[i] = (sbyte)newL;
                    sumlx = slx;
                    suml2 = sl2;
                    changed++;
                }
            }
            if (changed == 0) break;
        }
        for (int i = 0; i < n; i++) L[i] += (sbyte)nmax;
        return suml2 > 0 ? sumlx / suml2 : 0f;
    }
}
