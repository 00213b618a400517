using System.Globalization;

namespace QwenSharp.Grammar;

/// <summary>
/// The decimal spellings (JSON: no '+', no leading zeros) of the integers in a range, as a GBNF expression made
/// of digit classes, the way llama.cpp's build_min_max_int bounds integers. An open end is closed at 15 digits
/// (the integral digits every JSON number rule here allows), so every number is finite in length.
/// </summary>
internal static class IntegerRangeGrammar
{
    /// <summary>Largest magnitude an open end reaches: 15 digits.</summary>
    public const long OpenEnd = 999_999_999_999_999;

    /// <summary>Largest magnitude a bound may have (long arithmetic stays exact below it).</summary>
    public const long MaxBound = 999_999_999_999_999_999;

    public static string Range(long? min, long? max)
    {
        long lo = min ?? Math.Min(-OpenEnd, max ?? -OpenEnd);
        long hi = max ?? Math.Max(OpenEnd, lo);
        if (lo > hi) throw new GrammarException($"The integer range [{lo}, {hi}] is empty.");
        var alternatives = new List<string>();
        if (lo < 0)
            alternatives.Add("\"-\" " + Group(NonNegative(Math.Max(1, -Math.Min(hi, -1)), -lo)));
        if (hi >= 0)
            alternatives.Add(NonNegative(Math.Max(lo, 0), hi));
        return string.Join(" | ", alternatives);
    }

    private static string Group(string expression) => expression.Contains('|') ? "(" + expression + ")" : expression;

    // Split by number of digits, so each part is a range of same-length strings.
    private static string NonNegative(long a, long b)
    {
        var parts = new List<string>();
        int la = Digits(a), lb = Digits(b);
        for (int length = la; length <= lb; length++)
        {
            long from = Math.Max(a, length == 1 ? 0 : Pow10(length - 1));
            long to = Math.Min(b, Pow10(length) - 1);
            if (from <= to) parts.Add(SameLength(Text(from), Text(to)));
        }
        return string.Join(" | ", parts);
    }

    /// <summary>Digit strings of one length from x to y (x ≤ y), leading zeros allowed inside (they are suffixes).</summary>
    private static string SameLength(string x, string y)
    {
        if (x == y) return "\"" + x + "\"";
        int i = 0;
        while (x[i] == y[i]) i++;
        string prefix = i > 0 ? "\"" + x[..i] + "\" " : "";
        int rest = x.Length - i - 1;
        if (rest == 0) return prefix + DigitClass(x[i], y[i]);
        string xs = x[(i + 1)..], ys = y[(i + 1)..];
        var alternatives = new List<string>();
        char midLo = x[i], midHi = y[i];
        if (xs.Any(c => c != '0'))
        {
            alternatives.Add("\"" + x[i] + "\" " + Group(SameLength(xs, new string('9', rest))));
            midLo++;
        }
        string? upper = null;
        if (ys.Any(c => c != '9'))
        {
            upper = "\"" + y[i] + "\" " + Group(SameLength(new string('0', rest), ys));
            midHi--;
        }
        if (midLo <= midHi) alternatives.Add(DigitClass(midLo, midHi) + " [0-9]" + (rest > 1 ? "{" + rest + "}" : ""));
        if (upper is not null) alternatives.Add(upper);
        string body = string.Join(" | ", alternatives);
        return prefix.Length > 0 ? prefix + Group(body) : body;
    }

    private static string DigitClass(char from, char to) => from == to ? "\"" + from + "\"" : "[" + from + "-" + to + "]";

    private static int Digits(long v) => Text(v).Length;
    private static string Text(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static long Pow10(int n)
    {
        long p = 1;
        for (int i = 0; i < n; i++) p *= 10;
        return p;
    }
}
