using System.Text.RegularExpressions;
using QwenSharp.Grammar;
using Xunit.Abstractions;

namespace QwenSharp.Tests.Grammar;

public sealed class RegexGrammarTests(ITestOutputHelper output)
{
    public static readonly string[] Patterns =
    [
        "abc",
        "^[A-Z]{3}-\\d{2,4}$",
        "(foo|ba[rz])+",
        "\\w+@\\w+\\.(com|org)",
        "[^a-z\\s]{1,5}",
        "a.c",
        "(?:x|y)*z?",
        "\\d{3}(-\\d{4})?",
        "[+-]?(0|[1-9]\\d{0,5})(\\.\\d{1,3})?",
        "(?<year>\\d{4})-(?P<month>0[1-9]|1[0-2])",
        "[\\u00e0-\\u00ff]{2}x",
        "\\x41\\t\\n\\\\\\.",
        "a{2}b{1,}c{0,2}",
        "(a|)b",
        "[\\]\\-^]+",
        "{x}",
        "(ab)+?c*?",
        "[\\d\\W]{1,3}",
        "\\S\\s\\D",
        "(?:[a-c]|[x-z]{2}){2,3}",
    ];

    private static bool NetFullMatch(string pattern, string text) =>
        Regex.IsMatch(text, "\\A(?:" + pattern.Replace("(?P<", "(?<") + ")\\z", RegexOptions.None, TimeSpan.FromSeconds(5));

    [Fact]
    public void StringsDrawnUnderTheGrammarMatchTheWholePattern()
    {
        const int Seeds = 5, MaxTokens = 40;
        int finished = 0, cut = 0;
        var failures = new List<string>();
        foreach (var pattern in Patterns)
        {
            string gbnf = RegexGrammar.ToGbnf(pattern);
            Assert.True(LlamaGrammarOracle.Shared.Parses(gbnf), $"llama.cpp refused the grammar of /{pattern}/:\n{gbnf}");
            for (int seed = 1; seed <= Seeds; seed++)
            {
                var text = LlamaGrammarOracle.Shared.Generate(gbnf, seed, MaxTokens, endBias: 8f);
                if (text is null) { cut++; continue; }
                finished++;
                if (!NetFullMatch(pattern, text)) failures.Add($"/{pattern}/ => {System.Text.Json.JsonSerializer.Serialize(text)}");
            }
        }
        output.WriteLine($"{Patterns.Length} patterns x {Seeds} seeds: {finished} finished, {cut} cut, {failures.Count} not matched by .NET Regex");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(finished >= 0.8 * (finished + cut), $"only {finished} of {finished + cut} strings finished");
    }

    public static TheoryData<string, string> Examples => new()
    {
        { "^[A-Z]{3}-\\d{2,4}$", "ABC-12" },
        { "^[A-Z]{3}-\\d{2,4}$", "ABC-1" },
        { "^[A-Z]{3}-\\d{2,4}$", "ABC-12345" },
        { "^[A-Z]{3}-\\d{2,4}$", "abc-123" },
        { "(foo|ba[rz])+", "foobazbar" },
        { "(foo|ba[rz])+", "" },
        { "(foo|ba[rz])+", "fooba" },
        { "a.c", "a\nc" },
        { "a.c", "aéc" },
        { "[^a-z\\s]{1,5}", "AB C" },
        { "[^a-z\\s]{1,5}", "AB-C!" },
        { "\\d{3}(-\\d{4})?", "123-" },
        { "\\d{3}(-\\d{4})?", "123-4567" },
        { "[+-]?(0|[1-9]\\d{0,5})(\\.\\d{1,3})?", "-0.125" },
        { "[+-]?(0|[1-9]\\d{0,5})(\\.\\d{1,3})?", "01" },
        { "(a|)b", "b" },
        { "[\\]\\-^]+", "]-^" },
        { "[\\]\\-^]+", "]a" },
        { "{x}", "{x}" },
        { "\\x41\\t\\n\\\\\\.", "A\t\n\\." },
        { "(?:[a-c]|[x-z]{2}){2,3}", "axy" },
        { "(?:[a-c]|[x-z]{2}){2,3}", "axyb" },
        { "(?:[a-c]|[x-z]{2}){2,3}", "ax" },
        { "abc", "abcd" },
        { "abc", "ab" },
    };

    [Theory]
    [MemberData(nameof(Examples))]
    public void DerivesExactlyWhatDotNetRegexFullyMatches(string pattern, string text)
    {
        bool expected = NetFullMatch(pattern, text);
        Assert.Equal(expected, LlamaGrammarOracle.Shared.Derives(RegexGrammar.ToGbnf(pattern), text));
    }

    public static TheoryData<string, string> Refused => new()
    {
        { "(a)\\1", "backreference '\\1' at position 3" },
        { "(?=a)b", "lookahead '(?=' at position 0" },
        { "(?<!a)b", "lookbehind '(?<!' at position 0" },
        { "a\\bc", "word boundary '\\b' at position 1" },
        { "a^b", "anchor '^' at position 1" },
        { "a$b", "anchor '$' at position 1" },
        { "\\p{L}", "Unicode property escape '\\p' at position 0" },
        { "(?i)a", "group construct '(?i' at position 0" },
        { "a*+", "possessive quantifier at position 2" },
        { "a{2001}", "repetition count 2001 at position 1 exceeds the limit 2000" },
        { "*a", "quantifier '*' at position 0 has nothing to repeat" },
        { "(ab", "group opened at position 0 is not closed" },
        { "ab)", "unmatched ')' at position 2" },
        { "[b-a]", "class range at position 1 is out of order" },
        { "(?P=x)", "backreference '(?P=' at position 0" },
        { "\\k<x>", "named backreference '\\k' at position 0" },
        { "\\q", "unknown escape '\\q' at position 0" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void UnsupportedConstructsAreRefusedWithTheirPosition(string pattern, string message)
    {
        var ex = Assert.Throws<GrammarException>(() => RegexGrammar.ToGbnf(pattern));
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void RootAndPrefixAreChecked()
    {
        Assert.StartsWith("my-root ::= ", RegexGrammar.ToGbnf("a", "my-root", "p-"));
        Assert.Throws<GrammarException>(() => RegexGrammar.ToGbnf("a", "bad name"));
        Assert.Throws<GrammarException>(() => RegexGrammar.ToGbnf("a", "root", "p_"));
    }
}
