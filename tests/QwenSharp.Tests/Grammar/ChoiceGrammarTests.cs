using QwenSharp.Grammar;

namespace QwenSharp.Tests.Grammar;

public sealed class ChoiceGrammarTests
{
    private static readonly string[] Choices = ["yes", "no", "yes, please", "\"quoted\" \\ back", "tab\there\nnewline", "émoji 😀", "[x]-y"];

    [Fact]
    public void DerivesEachChoiceAndNothingElse()
    {
        string gbnf = ChoiceGrammar.ToGbnf(Choices);
        var oracle = LlamaGrammarOracle.Shared;
        foreach (var choice in Choices) Assert.True(oracle.Derives(gbnf, choice), $"{choice} not derived from\n{gbnf}");
        foreach (var other in new[] { "", "ye", "yes!", "No", "yes,", "\"quoted\" \\\\ back", "émoji", "[x]y", "noyes" })
            Assert.False(oracle.Derives(gbnf, other), $"{other} derived from\n{gbnf}");
        for (int seed = 1; seed <= 5; seed++)
        {
            var text = oracle.Generate(gbnf, seed, 20);
            Assert.NotNull(text);
            Assert.Contains(text, Choices);
        }
    }

    [Fact]
    public void EmptyOrNullChoicesAreRefused()
    {
        Assert.Contains("empty", Assert.Throws<GrammarException>(() => ChoiceGrammar.ToGbnf([])).Message);
        Assert.Contains("Choice 1", Assert.Throws<GrammarException>(() => ChoiceGrammar.ToGbnf(["a", null!])).Message);
    }
}
