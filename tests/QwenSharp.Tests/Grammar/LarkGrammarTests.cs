using QwenSharp.Grammar;

namespace QwenSharp.Tests.Grammar;

public sealed class LarkGrammarTests
{
    // vLLM's structured-outputs example grammar.
    private const string Sql = """
        ?start: select_statement

        ?select_statement: "SELECT " column_list " FROM " table_name

        ?column_list: column_name ("," column_name)*

        ?table_name: identifier

        ?column_name: identifier

        ?identifier: /[a-zA-Z_][a-zA-Z0-9_]*/
        """;

    // Lark's JSON example, with the common imports and %ignore.
    private const string Json = """
        ?start: value
        ?value: object
              | array
              | string
              | SIGNED_NUMBER      -> number
              | "true"             -> true
              | "false"            -> false
              | "null"             -> null
        array  : "[" [value ("," value)*] "]"
        object : "{" [pair ("," pair)*] "}"
        pair   : string ":" value
        string : ESCAPED_STRING   // a comment
        %import common.ESCAPED_STRING
        %import common.SIGNED_NUMBER
        %import common.WS
        %ignore WS
        """;

    private const string Terminals = """
        start: LETTERS "=" NUM _sep? WORD
        LETTERS: "a".."c" ~ 2..3
        NUM: DIGIT+ ("." DIGIT+)?
        _sep: ";" | /,\s?/
        %import common (DIGIT, WORD)
        """;

    public static TheoryData<string, string, bool> Examples => new()
    {
        { Sql, "SELECT a,b_2 FROM t", true },
        { Sql, "SELECT a FROM t", true },
        { Sql, "SELECT FROM t", false },
        { Sql, "SELECT a, b FROM t", false },
        { Sql, "select a FROM t", false },
        { Json, "{ \"a\" : [1, -2.5e3, true, null] }", true },
        { Json, "[]", true },
        { Json, "  \"x\\\"y\"  ", true },
        { Json, "{\"a\" 1}", false },
        { Json, "[1,]", false },
        { Json, "tru", false },
        { Terminals, "ab=12.5;Hello", true },
        { Terminals, "abc=7, x", true },
        { Terminals, "abc=7Hello", true },
        { Terminals, "a=1x", false },
        { Terminals, "abca=1x", false },
        { Terminals, "ab=1.x", false },
        { Terminals, "ab=1;;x", false },
    };

    [Theory]
    [MemberData(nameof(Examples))]
    public void DerivesTheLanguageOfTheLarkGrammar(string lark, string text, bool expected)
    {
        string gbnf = LarkGrammar.ToGbnf(lark);
        Assert.True(LlamaGrammarOracle.Shared.Parses(gbnf), gbnf);
        Assert.Equal(expected, LlamaGrammarOracle.Shared.Derives(gbnf, text));
    }

    private const string Greeting = """
        start: greeting " " NAME "!"
        greeting: "hello" | "hi"
        NAME: /[A-Z][a-z]{1,5}/
        """;

    private const string Ignoring = "%import common.WS_INLINE\n%ignore WS_INLINE\n";

    [Fact]
    public void DrawnTextMatchesTheRegularEquivalent()
    {
        string gbnf = LarkGrammar.ToGbnf(Greeting);
        var equivalent = new System.Text.RegularExpressions.Regex("\\A(hello|hi) [A-Z][a-z]{1,5}!\\z");
        int finished = 0;
        for (int seed = 1; seed <= 5; seed++)
        {
            var text = LlamaGrammarOracle.Shared.Generate(gbnf, seed, 60, endBias: 8f);
            if (text is null) continue;
            finished++;
            Assert.Matches(equivalent, text);
        }
        Assert.True(finished >= 4, $"only {finished} of 5 finished");
        Assert.False(LlamaGrammarOracle.Shared.Derives(gbnf, " hi Bob!"));
        // %ignore: blanks may stand before every token and at the end, never inside one.
        string ignoring = LarkGrammar.ToGbnf(Greeting + "\n" + Ignoring);
        Assert.True(LlamaGrammarOracle.Shared.Derives(ignoring, " hi \t Bob ! "));
        Assert.False(LlamaGrammarOracle.Shared.Derives(ignoring, "hiBob!"));
        Assert.False(LlamaGrammarOracle.Shared.Derives(ignoring, "h i Bob!"));
    }

    public static TheoryData<string, string> Refused => new()
    {
        { "start: A\n%import common.FOO -> A", "common.FOO" },
        { "start: \"a\"i", "case-insensitive" },
        { "start: /a/i", "regex flag 'i'" },
        { "start: a\n%declare X", "%declare" },
        { "start: _sep{x, y}", "template" },
        { "start: b", "'b' is not defined" },
        { "begin: \"a\"", "no 'start' rule" },
        { "start: /(a)\\1/", "backreference" },
        { "start: \"a\"\nstart: \"b\"", "defined twice" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void UnsupportedLarkIsRefusedByName(string lark, string message)
    {
        var ex = Assert.Throws<GrammarException>(() => LarkGrammar.ToGbnf(lark));
        Assert.Contains(message, ex.Message);
    }
}
