namespace QwenSharp.Grammar;

/// <summary>
/// The fixed rules JSON documents are built from: bounded whitespace, strings, numbers, literals, any value,
/// and the string formats. Whitespace between tokens is at most a space or a newline and 20 indents
/// (llama.cpp's "space" rule) and numbers have at most 15 integral and 15 fraction digits and a one-digit
/// exponent, so no token class can repeat forever under any weights, and every number fits System.Decimal
/// (±7.9e28, 28 places), which C# consumers and validators convert to.
/// </summary>
internal sealed class JsonPrimitiveRules(GbnfRuleSet rules)
{
    /// <summary>The names these rules take; a rule set reserves them so that schema-derived names never collide.</summary>
    public static readonly string[] Names =
    [
        "space", "char", "string", "integral", "integer", "number", "nonnegative-number", "boolean", "null",
        "value", "object", "array", "key-char", "date", "time", "date-time", "uuid",
        "date-string", "time-string", "date-time-string", "uuid-string",
    ];

    // JSON forbids raw '"', '\' and U+0000–U+001F inside strings.
    private static readonly CodePointSet RawStringChar = CodePointSet.Of(('\0', '\x1F'), ('"', '"'), ('\\', '\\')).Complement();

    /// <summary>The characters a JSON string may hold unescaped.</summary>
    public static CodePointSet RawChars => RawStringChar;

    public bool IsShared(string ruleName) => rules.IsSharedName(ruleName);

    public string Space => rules.Shared("space", () => "( \" \" | \"\\n\" [ \\t]{0,20} )?");

    /// <summary>One character of a JSON string: raw, a short escape, or a \u escape that is not a surrogate
    /// (a lone surrogate escape is invalid in the strict parsers validators use; astral characters come raw).</summary>
    public string Char => rules.Shared("char", () =>
        RawStringChar.ToGbnfClass() + " | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" ( [0-9a-cA-Ce-fE-F] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2} ) )");

    public string String => rules.Shared("string", () => $"\"\\\"\" {Char}* \"\\\"\" {Space}");

    /// <summary>A key character in an extra property name: raw characters only, so a name can be told apart from the declared ones.</summary>
    public string KeyChar => rules.Shared("key-char", () => RawStringChar.ToGbnfClass());

    public string Integral => rules.Shared("integral", () => "\"0\" | [1-9] [0-9]{0,14}");

    public string Integer => rules.Shared("integer", () => $"\"-\"? {Integral} {Space}");

    public string Number => rules.Shared("number", () => $"\"-\"? {Integral} ( \".\" [0-9]{{1,15}} )? ( [eE] [-+]? [0-9] )? {Space}");

    /// <summary>A number ≥ 0: no minus sign (so "-0" is left out too).</summary>
    public string NonNegativeNumber => rules.Shared("nonnegative-number", () => $"{Integral} ( \".\" [0-9]{{1,15}} )? ( [eE] [-+]? [0-9] )? {Space}");

    public string Boolean => rules.Shared("boolean", () => $"( \"true\" | \"false\" ) {Space}");

    public string Null => rules.Shared("null", () => $"\"null\" {Space}");

    public string Value => rules.Shared("value", () => $"{Object} | {Array} | {String} | {Number} | {Boolean} | {Null}");

    public string Object => rules.Shared("object", () =>
        $"\"{{\" {Space} ( {String} \":\" {Space} {Value} ( \",\" {Space} {String} \":\" {Space} {Value} )* )? \"}}\" {Space}");

    public string Array => rules.Shared("array", () => $"\"[\" {Space} ( {Value} ( \",\" {Space} {Value} )* )? \"]\" {Space}");

    /// <summary>RFC 3339 full-date; years 1000–9999 and February up to the 28th, so that every date exists in every calendar year.</summary>
    private string Date => rules.Shared("date", () =>
        "[1-9] [0-9]{3} \"-\" ( ( \"0\" [13578] | \"1\" [02] ) \"-\" ( \"0\" [1-9] | [12] [0-9] | \"3\" [01] )"
        + " | ( \"0\" [469] | \"11\" ) \"-\" ( \"0\" [1-9] | [12] [0-9] | \"30\" )"
        + " | \"02\" \"-\" ( \"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8] ) )");

    /// <summary>RFC 3339 full-time with a required offset; no leap second, and offsets within ±14:00 (the
    /// range of real zones, which .NET's DateTimeOffset and the validators built on it accept).</summary>
    private string Time => rules.Shared("time", () =>
        "( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{1,6} )?"
        + " ( \"Z\" | [+\\x2D] ( ( \"0\" [0-9] | \"1\" [0-3] ) \":\" [0-5] [0-9] | \"14:00\" ) )");

    private string DateTime => rules.Shared("date-time", () => $"{Date} \"T\" {Time}");

    private string Uuid => rules.Shared("uuid", () =>
        "[0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{12}");

    /// <summary>The string rule of a supported "format", or null.</summary>
    public string? Format(string format) => format switch
    {
        "date" => rules.Shared("date-string", () => $"\"\\\"\" {Date} \"\\\"\" {Space}"),
        "time" => rules.Shared("time-string", () => $"\"\\\"\" {Time} \"\\\"\" {Space}"),
        "date-time" => rules.Shared("date-time-string", () => $"\"\\\"\" {DateTime} \"\\\"\" {Space}"),
        "uuid" => rules.Shared("uuid-string", () => $"\"\\\"\" {Uuid} \"\\\"\" {Space}"),
        _ => null,
    };
}
