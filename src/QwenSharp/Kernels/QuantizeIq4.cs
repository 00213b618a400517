using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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
        float* q = stackalloc float[32];
        Iq4Levels(x, id, L, q);
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
        float* q = stackalloc float[32];
        for (int ib = 0; ib < 8; ib++)
        {
            int l = Math.Max(-32, Math.Min(31, NearestInt(id * scales[ib])));
            float dl = d * l;
            float idl = dl != 0 ? 1 / dl : 0f;
            Iq4Levels(x + 32 * ib, idl, L + 32 * ib, q);
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
        float* q = stackalloc float[32];
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
        {
            float ax = MathF.Abs(x[j]);
            if (ax > amax) { amax = ax; max = x[j]; }
        }
        if (amax < GroupMaxEps) return 0;
        float d = -max / grid[0];
        Iq4Levels(x, 1 / d, L, q);
        var (sumqx, sumq2) = Iq4Sums(x, q);
        d = sumq2 > 0 ? sumqx / sumq2 : 0f;
        float best = d * sumqx;
        for (int itry = -Iq4Tries; itry <= Iq4Tries; itry++)
        {
            Iq4Levels(x, (itry + grid[0]) / max, null, q);
            (sumqx, sumq2) = Iq4Sums(x, q);
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2)
            {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        return d;
    }

    /// <summary>Σw·q·x and Σw·q² with w = x², added in index order as ggml adds them (the bytes depend on it).</summary>
    private static (float SumQX, float SumQ2) Iq4Sums(float* x, float* q)
    {
        float sumqx = 0, sumq2 = 0;
        for (int j = 0; j < 32; j++)
        {
            float w = x[j] * x[j];
            sumqx += w * q[j] * x[j];
            sumq2 += w * q[j] * q[j];
        }
        return (sumqx, sumq2);
    }

    /// <summary>For the 32 values of a group: the nearest grid level of id·x (its index into <paramref name="L"/> unless
    /// null, its value into <paramref name="q"/>). Eight values at a time where vectors are hardware-accelerated: the
    /// level is 1 + the count of levels 1..14 that id·x is not below (what best_index_int8's bisection finds), then
    /// the lower neighbour where it is strictly nearer, the same float comparisons as <see cref="BestIq4Index"/>.</summary>
    internal static void Iq4Levels(float* x, float id, byte* L, float* q)
    {
        if (!Vector256.IsHardwareAccelerated)
        {
            var grid = Iq4NlGrid.Values;
            for (int j = 0; j < 32; j++)
            {
                int l = BestIq4Index(id * x[j]);
                if (L != null) L[j] = (byte)l;
                q[j] = grid[l];
            }
            return;
        }
        var low = Vector256.Create(-127f, -104f, -83f, -65f, -49f, -35f, -22f, -10f);
        var high = Vector256.Create(1f, 13f, 25f, 38f, 53f, 69f, 89f, 113f);
        var seven = Vector256.Create(7);
        for (int v = 0; v < 32; v += 8)
        {
            var xs = Vector256.Create(id) * Vector256.Load(x + v);
            var upper = Vector256<int>.One;
            var levels = GridFloats;
            for (int k = 1; k < 15; k++) // !(x < level) also counts a NaN, which the bisection sends to the top as well.
                upper -= (~Vector256.LessThan(xs, Vector256.Create(levels[k]))).AsInt32();
            var below = upper - Vector256<int>.One;
            var hi = Level(upper, low, high, seven);
            var lo = Level(below, low, high, seven);
            var takeLow = Vector256.LessThan(xs - lo, hi - xs);
            var index = upper + takeLow.AsInt32();
            Vector256.ConditionalSelect(takeLow, lo, hi).Store(q + v);
            if (L != null)
                for (int j = 0; j < 8; j++) L[v + j] = (byte)index.GetElement(j);
        }
    }

    private static ReadOnlySpan<float> GridFloats => [-127f, -104f, -83f, -65f, -49f, -35f, -22f, -10f, 1f, 13f, 25f, 38f, 53f, 69f, 89f, 113f];

    /// <summary>Grid level <paramref name="index"/> (0..15) of each lane, from the grid's two halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Level(Vector256<int> index, Vector256<float> low, Vector256<float> high, Vector256<int> seven)
    {
        var inHigh = Vector256.GreaterThan(index, seven).AsSingle();
        if (Avx2.IsSupported) // vpermps reads the low 3 bits of each index
            return Vector256.ConditionalSelect(inHigh, Avx2.PermuteVar8x32(high, index), Avx2.PermuteVar8x32(low, index));
        return Vector256.ConditionalSelect(inHigh, Vector256.Shuffle(high, index - seven - Vector256<int>.One), Vector256.Shuffle(low, index));
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
