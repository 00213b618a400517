using System.Diagnostics;
using QwenSharp.Grammar;

namespace QwenSharp.Tests.Grammar;

/// <summary>GBNF syntax as llama.cpp accepts it, and the errors (with line:column) for what it refuses or we limit.</summary>
public class GbnfParserTests
{
    private static readonly GrammarVocabulary Bytes = ByteVocabulary();

    /// <summary>256 single-byte tokens and an end id: enough to spell any text byte by byte.</summary>
    internal static GrammarVocabulary ByteVocabulary()
    {
        var tokens = new byte[]?[257];
        for (int b = 0; b < 256; b++) tokens[b] = [(byte)b];
        return new GrammarVocabulary(tokens, [256]);
    }

    internal static bool Matches(string gbnf, string text, string root = "root")
    {
        var m = new GrammarMatcher(CompiledGrammar.Compile(gbnf, Bytes, root));
        return m.AcceptBytes(System.Text.Encoding.UTF8.GetBytes(text)) && m.CanEnd;
    }

    [Theory]
    [InlineData("root ::= \"a\" | \"b\"", "b", true)]
    [InlineData("root ::= \"a\" | \"b\"", "c", false)]
    [InlineData("root ::= [a-c]+ \"!\"", "abcab!", true)]
    [InlineData("root ::= [^a-c]", "d", true)]
    [InlineData("root ::= [^a-c]", "b", false)]
    [InlineData("root ::= .", "ж", true)]
    [InlineData("root ::= \"x\"{3}", "xxx", true)]
    [InlineData("root ::= \"x\"{3}", "xx", false)]
    [InlineData("root ::= \"x\"{2,}", "xxxxx", true)]
    [InlineData("root ::= \"x\"{1,2}", "xxx", false)]
    [InlineData("root ::= (\"ab\" | \"c\")? \"d\"", "abd", true)]
    [InlineData("root ::= \"\\x41\\u00e9\\U0001F600\\t\\\\\\\"\"", "Aé😀\t\\\"", true)]
    [InlineData("root ::= [\\[\\]]+", "[]][", true)]
    [InlineData("# comment\nroot ::= a-b2 # trailing\na-b2 ::= (\n  \"x\"\n  | \"y\" )", "y", true)]
    [InlineData("root ::= \"a\" |\n  \"b\"", "b", true)]
    [InlineData("root ::= \"\"", "", true)]
    [InlineData("root ::= \"a\"\nroot ::= \"b\"", "b", true)] // a redefinition replaces, as in llama.cpp
    [InlineData("root ::= [а-я]{2} \" \" [\\u4e00-\\u9fff]", "жы 中", true)]
    [InlineData("root ::= [а-я]{2}", "жz", false)]
    public void AcceptsLlamaCppSyntax(string gbnf, string text, bool expected) => Assert.Equal(expected, Matches(gbnf, text));

    [Theory]
    [InlineData("root ::= foo", "line 1, column 10", "undefined rule 'foo'")]
    [InlineData("start ::= \"a\"", "", "no rule 'root'")]
    [InlineData("root ::= \"abc", "line 1, column 10", "unterminated literal")]
    [InlineData("root ::= [abc", "line 1, column 10", "unterminated character class")]
    [InlineData("root ::= \"a\"\n\nx ::= x \"b\" | \"c\"\nroot2 ::= x", "line 3, column 1", "left-recursive")]
    [InlineData("root ::= a\na ::= b \"x\"\nb ::= \"\" | a", "line 2, column 1", "left-recursive")]
    [InlineData("root ::= a\na ::= \"x\" a", "line 2, column 1", "derives no finite text")]
    [InlineData("root ::= \"x\"{2001}", "line 1, column 14", "limit of 2000")]
    [InlineData("root ::= \"x\"{3,2}", "line 1, column", "maximum below its minimum")]
    [InlineData("root ::= \"\\q\"", "line 1, column 11", "unknown escape")]
    [InlineData("root ::= \"\\x4\"", "line 1, column 11", "hex digits")]
    [InlineData("root ::= \"a\" )", "line 1, column 14", "expecting newline")]
    [InlineData("root ::= ( \"a\"", "line 1, column 15", "expecting ')'")]
    [InlineData("root := \"a\"", "line 1, column 6", "expecting '::='")]
    [InlineData("root ::= * \"a\"", "line 1, column 10", "expecting an item before")]
    [InlineData("root ::= [z-a]", "line 1, column 13", "runs backwards")]
    [InlineData("root ::= \"a\"\n| \"b\"", "line 2, column 1", "expecting a rule name")]
    public void ErrorsNameLineAndColumn(string gbnf, string where, string problem)
    {
        var e = Assert.Throws<GrammarException>(() => CompiledGrammar.Compile(gbnf, Bytes));
        Assert.Contains(where, e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void LeftRecursionIsCheckedOnlyForReachableRulesButUndefinedEverywhere()
    {
        Assert.Contains("undefined rule 'nope'", Assert.Throws<GrammarException>(() =>
            CompiledGrammar.Compile("root ::= \"a\"\nunused ::= nope", Bytes)).Message);
    }

    public static TheoryData<string, string> Hostile() => new()
    {
        { "root ::= " + new string('(', 100_000) + "\"a\"" + new string(')', 100_000), "nested deeper than the limit of 256" },
        { "root ::= \"a\"" + new string('*', 100_000), "repetition operators in a row" },
        { "root ::= \"" + new string('a', (1 << 20) + 1) + "\"", "exceeds the limit of 1048576" },
        { "root ::= [ab]* \"a\" [ab]{24}", "automaton states" }, // the classic exponential DFA
        { "root ::= r0\n" + string.Concat(Enumerable.Range(0, 3000).Select(i => $"r{i} ::= r{i + 1} \"x\" | \"y\"\n")) + "r3000 ::= r0", "left-recursive" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void HostileGrammarsAreRefusedWithAnError(string gbnf, string problem)
    {
        var e = Assert.Throws<GrammarException>(() => CompiledGrammar.Compile(gbnf, Bytes));
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void DeepRightRecursionRunsWithoutDeepNativeStacks()
    {
        // A chain of 3000 rules each calling the next: compiles, and matching walks its 3000 frames iteratively.
        string gbnf = "root ::= r0\n" + string.Concat(Enumerable.Range(0, 3000).Select(i => $"r{i} ::= \"x\" r{i + 1}\n")) + "r3000 ::= \"!\"";
        Assert.True(Matches(gbnf, new string('x', 3000) + "!"));
        Assert.False(Matches(gbnf, new string('x', 2999) + "!"));
    }
}
