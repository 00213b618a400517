using QwenSharp.Grammar;
using QwenSharp.Text;

namespace QwenSharp.Tests.Grammar;

/// <summary>The real Qwen2 vocabulary (151,936 logits, ends 151643 and 151645) and the grammars the tests walk.</summary>
public static class GrammarTestData
{
    public const int Logits = 151936, EndOfText = 151643, ImEnd = 151645;

    private static readonly Lazy<Qwen2Tokenizer> SharedTokenizer = new(() => Qwen2Tokenizer.FromFolder(Fixtures.TokenizerFolder));
    private static readonly Lazy<GrammarVocabulary> SharedVocabulary =
        new(() => GrammarVocabulary.FromTokenizer(SharedTokenizer.Value, Logits, [EndOfText, ImEnd]));

    public static Qwen2Tokenizer Tokenizer => SharedTokenizer.Value;
    public static GrammarVocabulary Vocabulary => SharedVocabulary.Value;

    /// <summary>llama.cpp's grammars/json.gbnf.</summary>
    public const string Json = """
        root   ::= object
        value  ::= object | array | string | number | ("true" | "false" | "null") ws

        object ::=
          "{" ws (
                    string ":" ws value
            ("," ws string ":" ws value)*
          )? "}" ws

        array  ::=
          "[" ws (
                    value
            ("," ws value)*
          )? "]" ws

        string ::=
          "\"" (
            [^"\\\x7F\x00-\x1F] |
            "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
          )* "\"" ws

        number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

        # Optional space: by convention, applied in this grammar after literal chars when allowed
        ws ::= | " " | "\n" [ \t]{0,20}
        """;

    /// <summary>llama.cpp's grammars/arithmetic.gbnf.</summary>
    public const string Arithmetic = """
        root  ::= (expr "=" ws term "\n")+
        expr  ::= term ([-+*/] term)*
        term  ::= ident | num | "(" ws expr ")" ws
        ident ::= [a-z] [a-z0-9_]* ws
        num   ::= [0-9]+ ws
        ws    ::= [ \t\n]*
        """;

    public const string NonAscii = """
        root ::= word (" " word)* " " han{1,3} tail "!"
        word ::= [а-яё]+ | [α-ω]{2,4}
        han  ::= [\u4e00-\u9fff]
        tail ::= [^a-z!\u0400-\u04FF]{0,3} "😀"?
        """;

    public const string Bounds = """
        root ::= "ab"{2,3} [0-9]{1,4} ("x" | "yz"){0,2} "." [a-c]{3} ([0-9] "-"){1,} "end"
        """;

    public const string Nested = """
        root ::= item ("," item)*
        item ::= "[" list? "]" | word
        list ::= item (" " item)*
        word ::= [a-z]+ | "\"" [^"]* "\""
        """;

    /// <summary>An object schema written as llama.cpp's json-schema-to-grammar writes them (space, char, bounded digits).</summary>
    public const string Schema = """
        root ::= "{" space "\"name\"" space ":" space string "," space "\"age\"" space ":" space integer "," space "\"tags\"" space ":" space tags "}" space
        tags ::= "[" space (string ("," space string)*)? "]" space
        string ::= "\"" char* "\"" space
        char ::= [^"\\\x7F\x00-\x1F] | [\\] (["\\bfnrt] | "u" [0-9a-fA-F]{4})
        integer ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) space
        space ::= | " " | "\n" [ \t]{0,20}
        """;

    public const string Phone = """
        root ::= "(" [0-9]{3} ") " [0-9]{3} "-" [0-9]{4}
        """;

    public const string Trigger = """
        root ::= ( [^<] | "<" [^t] )* "<tool>" [a-z]+ "</tool>"
        """;

    public static readonly (string Name, string Gbnf)[] All =
    [
        ("json", Json), ("arithmetic", Arithmetic), ("non-ascii", NonAscii), ("bounds", Bounds),
        ("nested", Nested), ("schema", Schema), ("phone", Phone), ("trigger", Trigger),
    ];

    /// <summary>Picks the next token of a random walk from a mask: often a short token (so the walk moves through
    /// the structure), sometimes any allowed one, an end id now and then once the text may end.</summary>
    public static int Pick(ulong[] mask, Random random, GrammarVocabulary vocab, bool canEnd)
    {
        var allowed = new List<int>();
        var shortOnes = new List<int>();
        for (int id = 0; id < vocab.Size; id++)
        {
            if ((mask[id >> 6] >> id & 1) == 0 || vocab.EndTokenIds.Contains(id)) continue;
            allowed.Add(id);
            if (vocab.TokenBytesById[id]!.Length <= 2) shortOnes.Add(id);
        }
        if (allowed.Count == 0 || (canEnd && random.NextDouble() < 0.1)) return vocab.EndTokenIds.First();
        var from = shortOnes.Count > 0 && random.NextDouble() < 0.6 ? shortOnes : allowed;
        return from[random.Next(from.Count)];
    }
}
