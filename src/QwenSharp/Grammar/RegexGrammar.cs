namespace QwenSharp.Grammar;

/// <summary>A regular expression (guided_regex, schema pattern) as GBNF matching exactly the strings the whole pattern matches.</summary>
/// <remarks>
/// The subset is the one ECMAScript, Python and .NET agree on and that stays regular (see <see cref="RegexParser"/>);
/// where they read a set differently (\d \w \s and their negations, '.', characters above U+FFFF) the grammar
/// admits only what all of them match, so whatever it derives matches in each engine.
/// </remarks>
public static class RegexGrammar
{
    public static string ToGbnf(string pattern, string rootRule = "root", string rulePrefix = "")
    {
        ArgumentNullException.ThrowIfNull(pattern);
        GbnfText.CheckName(rootRule, "root rule", mayBeEmpty: false);
        GbnfText.CheckName(rulePrefix, "rule prefix", mayBeEmpty: true);
        var node = RegexParser.Parse(pattern);
        var rules = new GbnfRuleSet(rulePrefix);
        rules.ReserveExact(rootRule);
        rules.Define(rootRule, RegexGbnfWriter.Write(node, insideJsonString: false));
        return rules.Write();
    }
}
