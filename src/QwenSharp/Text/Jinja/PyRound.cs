using System.Globalization;
using System.Numerics;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// Python's built-in round(x, n), which Jinja2's round filter calls: the exact binary value is rounded to n
/// decimals with ties to even (round(2.5) is 2.0, round(2.675, 2) is 2.67 because 2.675 is stored as
/// 2.67499…), an int stays an int.
/// </summary>
internal static class PyRound
{
    public static object Round(object value, long precision)
    {
        if (value is long l)
        {
            if (precision >= 0) return l;
            // |l| < 10^19, so rounding to 10^20 or coarser gives 0 (and bounds the powers of ten computed).
            if (precision < -19) return 0L;
            var rounded = RoundRational(new BigInteger(l), BigInteger.Pow(10, (int)-precision)) * BigInteger.Pow(10, (int)-precision);
            if (rounded > long.MaxValue)
                throw TemplateException.Unsupported($"integer arithmetic beyond 64 bits (round({l}, {precision}))");
            return (long)rounded * Math.Sign(l);
        }
        double d = (double)value;
        if (!double.IsFinite(d) || d == 0) return d;
        precision = Math.Clamp(precision, -400, 400);
        // d = mantissa * 2^exponent exactly.
        long bits = BitConverter.DoubleToInt64Bits(d);
        int rawExp = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (rawExp == 0) rawExp = 1;
        else mantissa |= 1L << 52;
        int exponent = rawExp - 1075;
        BigInteger num = mantissa, den = BigInteger.One;
        if (exponent >= 0) num <<= exponent;
        else den <<= -exponent;
        if (precision >= 0) num *= BigInteger.Pow(10, (int)precision);
        else den *= BigInteger.Pow(10, (int)-precision);
        var q = RoundRational(num, den);
        string text = q.ToString(CultureInfo.InvariantCulture) + "E" + (-precision).ToString(CultureInfo.InvariantCulture);
        double result = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return d < 0 ? -result : result;
    }

    /// <summary>|num| / den rounded to an integer, ties to even (num's sign is dropped; den &gt; 0).</summary>
    private static BigInteger RoundRational(BigInteger num, BigInteger den)
    {
        num = BigInteger.Abs(num);
        var q = BigInteger.DivRem(num, den, out var r);
        int c = (r * 2).CompareTo(den);
        if (c > 0 || (c == 0 && !q.IsEven)) q += 1;
        return q;
    }
}
