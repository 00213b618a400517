namespace QwenSharp.Grammar;

/// <summary>A list of choices (guided_choice) as GBNF: exactly one of the strings.</summary>
public static class ChoiceGrammar
{
    public static string ToGbnf(IReadOnlyList<string> choices, string rootRule = "root")
    {
        ArgumentNullException.ThrowIfNull(choices);
        GbnfText.CheckName(rootRule, "root rule", mayBeEmpty: false);
        if (choices.Count == 0) throw new GrammarException("The choice list is empty: constrained decoding needs at least one choice.");
        var distinct = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < choices.Count; i++)
        {
            var choice = choices[i] ?? throw new GrammarException($"Choice {i} is null.");
            if (seen.Add(choice)) distinct.Add(choice);
        }
        return rootRule + " ::= " + string.Join(" | ", distinct.Select(GbnfText.Literal)) + "\n";
    }
}
