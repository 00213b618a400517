using QwenSharp.Grammar;

namespace QwenSharp.Tests.Grammar;

/// <summary>Matcher behaviour: bytes and tokens that end inside a character, end ids, MustEnd, refusal leaves the state unchanged.</summary>
public class GrammarMatcherTests
{
    [Fact]
    public void BytesMayStopInsideACharacterAndOnlyValidUtf8Continues()
    {
        var m = new GrammarMatcher(CompiledGrammar.Compile("root ::= [а-я]+", GbnfParserTests.ByteVocabulary()));
        var zhe = System.Text.Encoding.UTF8.GetBytes("ж"); // D0 B6
        Assert.True(m.AcceptBytes(zhe.AsSpan(0, 1)));
        Assert.False(m.CanEnd);
        Assert.False(m.AcceptBytes([0x41]));      // not a continuation byte
        Assert.False(m.AcceptBytes([0xBF, 0x80])); // D0 BF = п, then a lone continuation byte
        Assert.True(m.AcceptBytes(zhe.AsSpan(1))); // refusals changed nothing
        Assert.True(m.CanEnd);
        Assert.False(m.MustEnd);
        var mask = new ulong[5];
        m.FillMask(mask);
        Assert.Equal(0UL, mask[0] | mask[1]);        // no ASCII
        Assert.Equal(1UL << 0xD0 - 192, mask[3] & (1UL << 0xD0 - 192)); // D0 may start the next letter
        Assert.Equal(0UL, mask[2]);                  // no lone continuation byte (0x80-0xBF)
        Assert.Equal(1UL, mask[4]);                  // the end id, since the text may end
    }

    [Theory]
    [InlineData(new byte[] { 0xED, 0x9F, 0xBF }, true)]        // U+D7FF
    [InlineData(new byte[] { 0xEE, 0x80, 0x80 }, true)]        // U+E000
    [InlineData(new byte[] { 0xF4, 0x8F, 0xBF, 0xBF }, true)]  // U+10FFFF
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 }, false)]       // U+D800, a surrogate
    [InlineData(new byte[] { 0xC0, 0x80 }, false)]             // overlong NUL
    [InlineData(new byte[] { 0xE0, 0x80, 0x80 }, false)]       // overlong
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 }, false)] // beyond U+10FFFF
    [InlineData(new byte[] { 0x80 }, false)]                   // lone continuation byte
    public void AnyCharacterMeansValidUtf8Only(byte[] bytes, bool valid)
    {
        foreach (var gbnf in new[] { "root ::= .", "root ::= [^a]" })
        {
            var m = new GrammarMatcher(CompiledGrammar.Compile(gbnf, GbnfParserTests.ByteVocabulary()));
            Assert.Equal(valid, m.AcceptBytes(bytes) && m.CanEnd);
        }
    }

    [Fact]
    public void EndIdsOnlyWhenCompleteAndMustEndWhenNothingMayFollow()
    {
        var vocab = GbnfParserTests.ByteVocabulary();
        var m = new GrammarMatcher(CompiledGrammar.Compile("root ::= \"ab\" \"c\"?", vocab));
        Assert.False(m.AcceptToken(256));
        Assert.True(m.AcceptBytes("ab"u8));
        Assert.True(m.CanEnd);
        Assert.False(m.MustEnd);
        Assert.True(m.AcceptToken('c'));
        Assert.True(m.MustEnd);
        var mask = new ulong[5];
        m.FillMask(mask);
        Assert.Equal([0UL, 0UL, 0UL, 0UL, 1UL], mask);
        var logits = new float[257];
        m.ApplyMask(logits);
        Assert.Equal(256, Enumerable.Range(0, 257).Count(i => float.IsNegativeInfinity(logits[i])));
        Assert.Equal(0f, logits[256]);
        Assert.True(m.AcceptToken(256));
        Assert.True(m.IsTerminated);
        Assert.False(m.CanEnd);
        Assert.False(m.AcceptToken('c'));
        Assert.False(m.AcceptToken(256));
    }

    [Fact]
    public void TokensCoveringSeveralSymbolsAndRulesAreMatchedWhole()
    {
        // ids: 0 '{"a"', 1 ': 1}', 2 '": 1', 3 '}\n', 4 the end
        var tokens = new List<byte[]?> { "{\"a\""u8.ToArray(), ": 1}"u8.ToArray(), "\": 1"u8.ToArray(), "}\n"u8.ToArray(), null };
        var vocab = new GrammarVocabulary(tokens, [4]);
        var g = CompiledGrammar.Compile("root ::= \"{\" ws key \":\" ws [0-9]+ ws \"}\"\nkey ::= \"\\\"\" [a-z]+ \"\\\"\"\nws ::= \" \"*", vocab);
        var m = new GrammarMatcher(g);
        var mask = new ulong[1];
        m.FillMask(mask);
        Assert.Equal(1UL, mask[0]);           // only '{"a"'
        Assert.True(m.AcceptToken(0));
        m.FillMask(mask);
        Assert.Equal(1UL << 1, mask[0]);      // ': 1}' ends the text; '": 1' would put a quote after the key
        Assert.True(m.AcceptToken(1));
        m.FillMask(mask);
        Assert.Equal(1UL << 4, mask[0]);      // only the end: '}\n' cannot follow
        Assert.True(m.MustEnd);
    }

    [Fact]
    public void CacheIsSharedAcrossMatchersAndThreads()
    {
        var vocab = GrammarTestData.Vocabulary;
        var g = new GrammarCache(4);
        var a = g.GetOrCompile(GrammarTestData.Json, vocab);
        Assert.Same(a, g.GetOrCompile(GrammarTestData.Json, vocab));
        var masks = new ulong[4][];
        Parallel.For(0, 4, i =>
        {
            var m = new GrammarMatcher(a);
            Assert.True(m.AcceptBytes("{\"k\": [1, \"x"u8));
            masks[i] = new ulong[(vocab.Size + 63) / 64];
            m.FillMask(masks[i]);
        });
        for (int i = 1; i < 4; i++) Assert.Equal(masks[0], masks[i]);
        Assert.Throws<GrammarException>(() => g.GetOrCompile("root ::= nope", vocab));
        Assert.Throws<GrammarException>(() => g.GetOrCompile("root ::= nope", vocab));
    }

    [Fact]
    public void CacheKeepsTheMostRecentlyUsedUpToItsCapacity()
    {
        var vocab = GbnfParserTests.ByteVocabulary();
        var cache = new GrammarCache(2);
        var a = cache.GetOrCompile("root ::= \"a\"", vocab);
        var b = cache.GetOrCompile("root ::= \"b\"", vocab);
        Assert.Same(a, cache.GetOrCompile("root ::= \"a\"", vocab)); // a is now the most recent
        cache.GetOrCompile("root ::= \"c\"", vocab);                  // evicts b
        Assert.Same(a, cache.GetOrCompile("root ::= \"a\"", vocab));
        Assert.NotSame(b, cache.GetOrCompile("root ::= \"b\"", vocab));
        Assert.NotSame(a, cache.GetOrCompile("root ::= \"a\"", GbnfParserTests.ByteVocabulary())); // another vocabulary
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrammarCache(0));
    }
}
