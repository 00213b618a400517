namespace QwenSharp.Grammar;

/// <summary>
/// A grammar, schema, regular expression or choice list that cannot be compiled: the message names the
/// construct (rule, keyword, line and column) and, for a limit, the limit. Servers turn it into a 400.
/// </summary>
public class GrammarException : FormatException
{
    public GrammarException(string message) : base(message) { }
    public GrammarException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A JSON Schema keyword (or keyword value) that constrained decoding does not support, refused by name, never ignored.</summary>
public sealed class UnsupportedSchemaException(string keyword, string message) : GrammarException(message)
{
    /// <summary>The keyword, e.g. "patternProperties" or "format".</summary>
    public string Keyword { get; } = keyword;
}
