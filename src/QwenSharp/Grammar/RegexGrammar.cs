namespace QwenSharp.Grammar;

/// <summary>A regular expression (guided_regex, schema pattern) as GBNF matching exactly the strings the whole pattern matches.</summary>
public static class RegexGrammar
{
    public static string ToGbnf(string pattern, string rootRule = "root", string rulePrefix = "") => throw new NotImplementedException();
}

/// <summary>A list of choices (guided_choice) as GBNF: exactly one of the strings.</summary>
public static class ChoiceGrammar
{
    public static string ToGbnf(IReadOnlyList<string> choices, string rootRule = "root") => throw new NotImplementedException();
}

/// <summary>vLLM's EBNF / Lark grammars (guided_grammar in Lark form) translated to GBNF.</summary>
public static class LarkGrammar
{
    public static string ToGbnf(string lark) => throw new NotImplementedException();
}
