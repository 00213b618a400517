namespace QwenSharp.Grammar;

/// <summary>
/// The terminals of Lark's common.lark that %import may bring in, written directly in GBNF with the same
/// languages (ESCAPED_STRING: Lark's _STRING_ESC_INNER, a string with backslash escapes and no newline).
/// </summary>
internal static class LarkCommonTerminals
{
    private static readonly Dictionary<string, string> Bodies = new(StringComparer.Ordinal)
    {
        ["DIGIT"] = "[0-9]",
        ["HEXDIGIT"] = "[0-9A-Fa-f]",
        ["INT"] = "[0-9]+",
        ["SIGNED_INT"] = "[+\\x2D]? [0-9]+",
        ["DECIMAL"] = "[0-9]+ \".\" [0-9]* | \".\" [0-9]+",
        ["FLOAT"] = "[0-9]+ [eE] [+\\x2D]? [0-9]+ | ( [0-9]+ \".\" [0-9]* | \".\" [0-9]+ ) ( [eE] [+\\x2D]? [0-9]+ )?",
        ["SIGNED_FLOAT"] = "[+\\x2D]? ( [0-9]+ [eE] [+\\x2D]? [0-9]+ | ( [0-9]+ \".\" [0-9]* | \".\" [0-9]+ ) ( [eE] [+\\x2D]? [0-9]+ )? )",
        ["NUMBER"] = "[0-9]+ ( [eE] [+\\x2D]? [0-9]+ )? | ( [0-9]+ \".\" [0-9]* | \".\" [0-9]+ ) ( [eE] [+\\x2D]? [0-9]+ )?",
        ["SIGNED_NUMBER"] = "[+\\x2D]? ( [0-9]+ ( [eE] [+\\x2D]? [0-9]+ )? | ( [0-9]+ \".\" [0-9]* | \".\" [0-9]+ ) ( [eE] [+\\x2D]? [0-9]+ )? )",
        ["ESCAPED_STRING"] = "\"\\\"\" ( [^\"\\\\\\n] | \"\\\\\" [^\\n] )* \"\\\"\"",
        ["LCASE_LETTER"] = "[a-z]",
        ["UCASE_LETTER"] = "[A-Z]",
        ["LETTER"] = "[A-Za-z]",
        ["WORD"] = "[A-Za-z]+",
        ["CNAME"] = "[_A-Za-z] [_A-Za-z0-9]*",
        ["WS_INLINE"] = "[ \\t]+",
        ["WS"] = "[ \\t\\x0C\\r\\n]+",
        ["CR"] = "\"\\r\"",
        ["LF"] = "\"\\n\"",
        ["NEWLINE"] = "( \"\\r\"? \"\\n\" )+",
    };

    public static IEnumerable<string> Names => Bodies.Keys;

    public static string? Body(string name) => Bodies.TryGetValue(name, out var body) ? body : null;
}
