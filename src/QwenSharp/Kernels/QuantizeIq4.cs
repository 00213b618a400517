using QwenSharp.Tensors;
using static QwenSharp.Kernels.FloatFormats;

namespace QwenSharp.Kernels;

// IQ4_NL and IQ4_XS as llama-quantize writes them without an importance matrix: ggml's quantize_iq4_nl and
// quantize_iq4_xs (not the _ref rows, which skip the scale search), both through quantize_row_iq4_nl_impl with
// weights x² and a search over 15 candidate scales. IQ4_NL is one group of 32 with an fp16 scale; IQ4_XS is eight
// such groups under one fp16 scale with a 6-bit factor each.
public static unsafe partial class Quantize
{
    /// <summary>Candidate scales tried each side of the first guess (quantize_iq4_nl's and quantize_iq4_xs' ntry).</summary>
    private const int Iq4Tries = 7;

    private static void IQ4_NL(float* x, BlockIQ4_NL* y)
    {
        byte* L = stackalloc byte[32];
        float scale = Iq4GroupScale(x, L);
        y->D = SingleToHalf(scale);
        // A group's levels are chosen again against its final scale (also when that is 0: every value → level 0.0).
        float id = scale != 0 ? 1 / scale : 0;
        for (int j = 0; j < 32; j++) L[j] = (byte)BestIq4Index(id * x[j]);
        PackIq4Nibbles(L, (byte*)&y->Qs, 1);
    }

    private static void IQ4_XS(float* x, BlockIQ4_XS* y)
    {
        byte* L = stackalloc byte[256];
        float* scales = stackalloc float[8];
        float maxScale = 0, amaxScale = 0;
        for (int ib = 0; ib < 8; ib++)
        {
            scales[ib] = Iq4GroupScale(x + 32 * ib, L + 32 * ib);
            float abs = MathF.Abs(scales[ib]);
            if (abs > amaxScale) { amaxScale = abs; maxScale = scales[ib]; }
        }
        byte* scalesL = (byte*)&y->ScalesL;
        ushort scalesH = 0;
        float d = -maxScale / 32;
        y->D = SingleToHalf(d);
        float id = d != 0 ? 1 / d : 0f;
        for (int ib = 0; ib < 8; ib++)
        {
            int l = Math.Max(-32, Math.Min(31, NearestInt(id * scales[ib])));
            float dl = d * l;
            float idl = dl != 0 ? 1 / dl : 0f;
            for (int j = 0; j < 32; j++) L[32 * ib + j] = (byte)BestIq4Index(idl * x[32 * ib + j]);
            l += 32;
            if (ib % 2 == 0) scalesL[ib / 2] = (byte)(l & 0x0F);
            else scalesL[ib / 2] |= (byte)((l & 0x0F) << 4);
            scalesH |= (ushort)((l >> 4) << (2 * ib));
        }
        y->ScalesH = scalesH;
        PackIq4Nibbles(L, (byte*)&y->Qs, 8);
    }

    /// <summary>
    /// One group of 32 (quantize_row_iq4_nl_impl's inner loop, weights x²): the scale that maps the group's
    /// largest magnitude to the grid's end −127, then for 15 candidates (−127 ± 7)/max the weighted least-squares
    /// scale Σw·q·x/Σw·q² of the nearest levels, keeping the one that best explains the group. 0 for a group of zeros.
    /// </summary>
    private static float Iq4GroupScale(float* x, byte* L)
    {
        var grid = Iq4NlGrid.Values;
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
        {
            float ax = MathF.Abs(x[j]);
            if (ax > amax) { amax = ax; max = x[j]; }
        }
        if (amax < GroupMaxEps) return 0;
        float d = -max / grid[0];
        float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int j = 0; j < 32; j++)
        {
            int l = BestIq4Index(id * x[j]);
            L[j] = (byte)l;
            float q = grid[l];
            float w = x[j] * x[j];
            sumqx += w * q * x[j];
            sumq2 += w * q * q;
        }
        d = sumq2 > 0 ? sumqx / sumq2 : 0f;
        float best = d * sumqx;
        for (int itry = -Iq4Tries; itry <= Iq4Tries; itry++)
        {
            id = (itry + grid[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < 32; j++)
            {
                float q = grid[BestIq4Index(id * x[j])];
                float w = x[j] * x[j];
                sumqx += w * q * x[j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2)
            {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        return d;
    }

    /// <summary>The grid level nearest <paramref name="x"/> (best_index_int8: bisection, a tie going to the upper level).</summary>
    internal static int BestIq4Index(float x)
    {
        var grid = Iq4NlGrid.Values;
        if (x <= grid[0]) return 0;
        if (x >= grid[15]) return 15;
        int lo = 0, hi = 15;
        while (hi - lo > 1)
        {
            int mid = (lo + hi) / 2;
            if (x < grid[mid]) hi = mid; else lo = mid;
        }
        return x - grid[hi - 1] < grid[hi] - x ? hi - 1 : hi;
    }

    /// <summary>Groups of 32 levels as 16 bytes each: value j in the low nibble of byte j, value j + 16 in its high one.</summary>
    private static void PackIq4Nibbles(byte* L, byte* qs, int groups)
    {
        for (int i = 0; i < groups; i++)
            for (int j = 0; j < 16; j++)
                qs[16 * i + j] = (byte)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
    }
}
