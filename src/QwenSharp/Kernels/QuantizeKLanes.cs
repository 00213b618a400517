using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace QwenSharp.Kernels;

// The K-quant scale searches (make_qkx2_quants for Q4_K/Q5_K, make_qx_quants for Q6_K) with one sub-block per lane of
// a Vector256: eight sub-blocks run the search side by side, each lane doing the float operations of the plain twin in
// QuantizeK.cs in the same order (ggml's reference is scalar C without fast-math, so its sums are sequential and no
// multiply-add is fused). Lanes rather than candidates, because in make_qkx2_quants a winning candidate moves `min`,
// which the next candidates' scale and levels read: the candidates of one sub-block are not independent. The first
// strict improvement wins in candidate order, as the scalar `if` does; a lane's levels are rebuilt at the end from the
// winning candidate's iscale and min (the same nearest_int of the same floats).
public static unsafe partial class Quantize
{
    /// <summary>The 8 sub-blocks of 32 of one Q4_K/Q5_K super-block: weights avX + |x| and make_qkx2_quants, lane j
    /// = sub-block j. Writes the scales, the mins (as the_min: −min) and the search's levels into L.</summary>
    private static void Qkx2Lanes(float* x, int nmax, float rmin, float rdelta, int nstep, byte* L, float* scales, float* mins)
    {
        float* xT = stackalloc float[256]; // xT[8 i + j] = x[32 j + i]
        float* wT = stackalloc float[256];
        float* lT = stackalloc float[256]; // a candidate's levels, as floats
        for (int j = 0; j < 8; j++)
            for (int i = 0; i < 32; i++) xT[8 * i + j] = x[32 * j + i];

        var sumX2 = Vector256<float>.Zero;
        for (int i = 0; i < 32; i++)
        {
            var v = Vector256.Load(xT + 8 * i);
            sumX2 += v * v;
        }
        var avX = Vector256.Sqrt(sumX2 / Vector256.Create(32f));
        for (int i = 0; i < 32; i++) (avX + Vector256.Abs(Vector256.Load(xT + 8 * i))).Store(wT + 8 * i);

        var zero = Vector256<float>.Zero;
        var min = Vector256.Load(xT);
        var max = min;
        var sumW = Vector256.Load(wT);
        var sumX = sumW * min;
        for (int i = 1; i < 32; i++)
        {
            var xi = Vector256.Load(xT + 8 * i);
            min = Vector256.ConditionalSelect(Vector256.LessThan(xi, min), xi, min);
            max = Vector256.ConditionalSelect(Vector256.GreaterThan(xi, max), xi, max);
            var wi = Vector256.Load(wT + 8 * i);
            sumW += wi;
            sumX += wi * xi;
        }
        min = Vector256.ConditionalSelect(Vector256.GreaterThan(min, zero), zero, min);
        var flat = Vector256.Equals(max, min); // every value alike: levels 0, scale 0
        var hi = Vector256.Create(nmax);
        var iscale = Vector256.Create((float)nmax) / (max - min);
        var scale = Vector256<float>.One / iscale;
        var bestError = zero;
        for (int i = 0; i < 32; i++)
        {
            var xi = Vector256.Load(xT + 8 * i);
            var l = Vector256.ConvertToSingle(Clamp(NearestIntLanes(iscale * (xi - min)), Vector256<int>.Zero, hi));
            var diff = scale * l + min - xi;
            bestError += Vector256.Load(wT + 8 * i) * (diff * diff);
        }
        var bestIscale = iscale;
        var bestMinUsed = min;
        for (int s = 0; s <= nstep; s++)
        {
            iscale = Vector256.Create(rmin + rdelta * s + nmax) / (max - min);
            var sumL = zero;
            var sumL2 = zero;
            var sumXL = zero;
            for (int i = 0; i < 32; i++)
            {
                var xi = Vector256.Load(xT + 8 * i);
                var l = Vector256.ConvertToSingle(Clamp(NearestIntLanes(iscale * (xi - min)), Vector256<int>.Zero, hi));
                l.Store(lT + 8 * i);
                var wl = Vector256.Load(wT + 8 * i) * l;
                sumL += wl;
                sumL2 += wl * l;
                sumXL += wl * xi;
            }
            var D = sumW * sumL2 - sumL * sumL;
            var thisScale = (sumW * sumXL - sumX * sumL) / D;
            var thisMin = (sumL2 * sumX - sumL * sumXL) / D;
            var positive = Vector256.GreaterThan(thisMin, zero);
            thisMin = Vector256.ConditionalSelect(positive, zero, thisMin);
            thisScale = Vector256.ConditionalSelect(positive, sumXL / sumL2, thisScale);
            var curError = zero;
            for (int i = 0; i < 32; i++)
            {
                var diff = thisScale * Vector256.Load(lT + 8 * i) + thisMin - Vector256.Load(xT + 8 * i);
                curError += Vector256.Load(wT + 8 * i) * (diff * diff);
            }
            var win = Vector256.GreaterThan(D, zero) & Vector256.LessThan(curError, bestError) & ~flat;
            bestError = Vector256.ConditionalSelect(win, curError, bestError);
            scale = Vector256.ConditionalSelect(win, thisScale, scale);
            bestIscale = Vector256.ConditionalSelect(win, iscale, bestIscale);
            bestMinUsed = Vector256.ConditionalSelect(win, min, bestMinUsed);
            min = Vector256.ConditionalSelect(win, thisMin, min);
        }
        Vector256.ConditionalSelect(flat, zero, scale).Store(scales);
        (-min).Store(mins);
        var flatInt = flat.AsInt32();
        for (int i = 0; i < 32; i++)
        {
            var xi = Vector256.Load(xT + 8 * i);
            var l = Vector256.AndNot(Clamp(NearestIntLanes(bestIscale * (xi - bestMinUsed)), Vector256<int>.Zero, hi), flatInt);
            for (int j = 0; j < 8; j++) L[32 * j + i] = (byte)l.GetElement(j);
        }
    }

    /// <summary>Eight sub-blocks of 16 (x + 16 j for lane j) through make_qx_quants with rmse_type 1, as
    /// <see cref="MakeQxQuants"/>: scales out, levels l + nmax into L (L + 16 j for lane j).</summary>
    private static void QxLanes(float* x, int nmax, sbyte* L, float* scales)
    {
        float* xT = stackalloc float[128]; // xT[8 i + j] = x[16 j + i]
        for (int j = 0; j < 8; j++)
            for (int i = 0; i < 16; i++) xT[8 * i + j] = x[16 * j + i];

        var zero = Vector256<float>.Zero;
        var amax = zero;
        var max = zero;
        for (int i = 0; i < 16; i++)
        {
            var xi = Vector256.Load(xT + 8 * i);
            var ax = Vector256.Abs(xi);
            var larger = Vector256.GreaterThan(ax, amax);
            amax = Vector256.ConditionalSelect(larger, ax, amax);
            max = Vector256.ConditionalSelect(larger, xi, max);
        }
        var small = Vector256.LessThan(amax, Vector256.Create(GroupMaxEps)); // scale 0, levels 0
        var lo = Vector256.Create(-nmax);
        var hi = Vector256.Create(nmax - 1);
        var iscale = Vector256.Create((float)-nmax) / max;
        var (sumlx, suml2) = QxSums(xT, iscale, lo, hi);
        var scale = Vector256.ConditionalSelect(Vector256.Equals(suml2, zero), zero, sumlx / suml2);
        var best = scale * sumlx;
        var bestIscale = iscale;
        for (int s = -9; s <= 9; s++)
        {
            if (s == 0) continue;
            iscale = Vector256.Create(-(nmax + 0.1f * s)) / max;
            (sumlx, suml2) = QxSums(xT, iscale, lo, hi);
            var win = Vector256.GreaterThan(suml2, zero) & Vector256.GreaterThan(sumlx * sumlx, best * suml2);
            var newScale = sumlx / suml2;
            scale = Vector256.ConditionalSelect(win, newScale, scale);
            best = Vector256.ConditionalSelect(win, newScale * sumlx, best);
            bestIscale = Vector256.ConditionalSelect(win, iscale, bestIscale);
        }
        Vector256.ConditionalSelect(small, zero, scale).Store(scales);
        var smallInt = small.AsInt32();
        var offset = Vector256.Create(nmax);
        for (int i = 0; i < 16; i++)
        {
            var l = Vector256.AndNot(Clamp(NearestIntLanes(bestIscale * Vector256.Load(xT + 8 * i)), lo, hi) + offset, smallInt);
            for (int j = 0; j < 8; j++) L[16 * j + i] = (sbyte)l.GetElement(j);
        }
    }

    /// <summary>Σ w·x·l and Σ w·l² with w = x² over a lane's 16 values, in index order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> SumLX, Vector256<float> SumL2) QxSums(float* xT, Vector256<float> iscale, Vector256<int> lo, Vector256<int> hi)
    {
        var sumlx = Vector256<float>.Zero;
        var suml2 = Vector256<float>.Zero;
        for (int i = 0; i < 16; i++)
        {
            var xi = Vector256.Load(xT + 8 * i);
            var l = Vector256.ConvertToSingle(Clamp(NearestIntLanes(iscale * xi), lo, hi));
            var w = xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        return (sumlx, suml2);
    }

    /// <summary>ggml's nearest_int in each lane: add 1.5·2²³ and read the low mantissa bits (ties to even).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> NearestIntLanes(Vector256<float> v) =>
        ((v + Vector256.Create(12582912f)).AsInt32() & Vector256.Create(0x007fffff)) - Vector256.Create(0x00400000);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Clamp(Vector256<int> v, Vector256<int> lo, Vector256<int> hi) => Vector256.Max(lo, Vector256.Min(hi, v));

    /// <summary>The final levels of one Q4_K/Q5_K sub-block of 32: nearest_int((x + dm)/d) clamped to 0..nmax.</summary>
    private static void LevelsWithMinLanes(float* x, float dm, float d, int nmax, byte* L)
    {
        var vdm = Vector256.Create(dm);
        var vd = Vector256.Create(d);
        var hi = Vector256.Create(nmax);
        Vector256<int> Level(int k) => Clamp(NearestIntLanes((Vector256.Load(x + 8 * k) + vdm) / vd), Vector256<int>.Zero, hi);
        var low = Vector256.Narrow(Level(0), Level(1));
        var high = Vector256.Narrow(Level(2), Level(3));
        Vector256.Narrow(low, high).AsByte().Store(L);
    }

    /// <summary>The final levels of one Q6_K sub-block of 16: nearest_int(x/d) clamped to −32..31, plus 32.</summary>
    private static void LevelsSymmetricLanes(float* x, float d, sbyte* L)
    {
        var vd = Vector256.Create(d);
        var lo = Vector256.Create(-32);
        var hi = Vector256.Create(31);
        var offset = Vector256.Create(32);
        var a = Clamp(NearestIntLanes(Vector256.Load(x) / vd), lo, hi) + offset;
        var b = Clamp(NearestIntLanes(Vector256.Load(x + 8) / vd), lo, hi) + offset;
        var shorts = Vector256.Narrow(a, b);
        Vector128.Narrow(shorts.GetLower(), shorts.GetUpper()).Store(L);
    }
}
