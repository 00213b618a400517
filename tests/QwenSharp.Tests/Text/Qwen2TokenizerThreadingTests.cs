namespace QwenSharp.Tests.Text;

/// <summary>One tokenizer shared by many threads (as the server shares it) gives each the ids it gives alone.</summary>
public sealed class Qwen2TokenizerThreadingTests
{
    [Fact]
    public void Concurrent_encodes_equal_sequential_ones()
    {
        var tokenizer = Qwen2TokenizerDifferentialTests.Ours;
        var corpus = TokenizerCorpus.Mixtures(2000, seed: 21).Concat(TokenizerCorpus.RandomCodePoints(500, seed: 22)).ToArray();
        var expected = corpus.Select(tokenizer.Encode).ToArray();
        var actual = new int[corpus.Length][];
        Parallel.For(0, corpus.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => actual[i] = tokenizer.Encode(corpus[i]));
        for (int i = 0; i < corpus.Length; i++) Assert.Equal(expected[i], actual[i]);
    }
}
