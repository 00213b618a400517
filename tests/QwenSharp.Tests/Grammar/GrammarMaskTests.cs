using QwenSharp.Grammar;

namespace QwenSharp.Tests.Grammar;

/// <summary>The cached mask (accepted/uncertain per state, trie walk) against the brute force: every token's bytes run
/// through the matcher's stacks one by one, at every step of seeded random walks over the real Qwen2 vocabulary.</summary>
public class GrammarMaskTests
{
    public static TheoryData<string> Names() => new(GrammarTestData.All.Select(g => g.Name));

    [Theory]
    [MemberData(nameof(Names))]
    public void CachedMaskEqualsBruteForceOnRandomWalks(string name)
    {
        var vocab = GrammarTestData.Vocabulary;
        var grammar = CompiledGrammar.Compile(GrammarTestData.All.Single(g => g.Name == name).Gbnf, vocab);
        var random = new Random(1234);
        for (int walk = 0; walk < 3; walk++)
        {
            var matcher = new GrammarMatcher(grammar);
            for (int step = 0; step < 25 && !matcher.IsTerminated; step++)
            {
                var mask = new ulong[(vocab.Size + 63) / 64];
                matcher.FillMask(mask);
                var brute = BruteForce(matcher, vocab);
                for (int w = 0; w < mask.Length; w++)
                    if (mask[w] != brute[w])
                    {
                        int id = w * 64 + System.Numerics.BitOperations.TrailingZeroCount(mask[w] ^ brute[w]);
                        Assert.Fail($"{name} walk {walk} step {step}: token {id} '{Show(vocab, id)}' cached {(mask[w] >> id & 1)} brute {(brute[w] >> id & 1)}");
                    }
                Assert.Contains(mask, w => w != 0);
                int token = GrammarTestData.Pick(mask, random, vocab, matcher.CanEnd);
                Assert.True(matcher.AcceptToken(token), $"{name}: allowed token {token} refused");
            }
        }
    }

    internal static string Show(GrammarVocabulary vocab, int id) =>
        vocab.TokenBytesById[id] is { } b ? System.Text.Encoding.UTF8.GetString(b).Replace("\n", "\\n") : "<none>";

    /// <summary>Each token's bytes read through the matcher's stack set, byte by byte, with no cache and no trie.</summary>
    internal static ulong[] BruteForce(GrammarMatcher matcher, GrammarVocabulary vocab)
    {
        var result = new ulong[(vocab.Size + 63) / 64];
        var a = matcher.Automaton;
        StackSet x = new(), y = new();
        for (int id = 0; id < vocab.Size; id++)
        {
            if (vocab.EndTokenIds.Contains(id))
            {
                if (matcher.CanEnd) result[id >> 6] |= 1UL << id;
                continue;
            }
            if (vocab.TokenBytesById[id] is not { } bytes) continue;
            var from = matcher.Stacks;
            bool alive = true;
            foreach (byte b in bytes)
            {
                var into = ReferenceEquals(from, x) ? y : x;
                into.Step(a, from, b);
                if (into.Count == 0 && !into.Completed) { alive = false; break; }
                from = into;
            }
            if (alive) result[id >> 6] |= 1UL << id;
        }
        return result;
    }
}
