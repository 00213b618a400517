using System.Globalization;
using System.Text.RegularExpressions;
using QwenSharp.Text.Jinja;

namespace QwenSharp.Text.ToolCalls;

/// <summary>
/// A JSON number as Python's json module holds it, kept as the text <c>json.dumps</c> prints for it: an
/// integer (no '.', 'e' or 'E') prints its digits ("-0" as "0"), any other number is a float and prints as
/// repr(float) ("2.50" as "2.5", "1e5" as "100000.0", "1e400" as "Infinity"); NaN, Infinity and -Infinity
/// print as themselves.
/// </summary>
internal sealed partial record PyNumber(string Text)
{
    /// <summary>Python refuses to convert integer strings longer than this (sys.int_info.str_digits_check_threshold).</summary>
    public const int MaxIntegerDigits = 4300;

    // The C scanner's number grammar (Modules/_json.c, _match_number_unicode): ASCII digits only.
    [GeneratedRegex(@"\A-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?\z")]
    private static partial Regex Grammar();

    /// <summary>The number <paramref name="text"/> denotes, or null with <paramref name="error"/> saying why not.</summary>
    public static PyNumber? Parse(string text, out string? error)
    {
        error = null;
        if (text is "NaN" or "Infinity" or "-Infinity") return new PyNumber(text);
        var m = Grammar().Match(text);
        if (!m.Success)
        {
            error = $"an invalid number '{text}'";
            return null;
        }
        if (!m.Groups[1].Success && !m.Groups[2].Success)
        {
            string digits = text.TrimStart('-');
            if (digits.Length > MaxIntegerDigits)
            {
                error = $"an integer of {digits.Length} digits, more than the {MaxIntegerDigits} Python converts";
                return null;
            }
            return new PyNumber(digits == "0" ? "0" : text);
        }
        // double.Parse rounds to nearest like Python's float() and gives ±Infinity past the range.
        double d = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return new PyNumber(double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PyFormat.FloatRepr(d));
    }
}
