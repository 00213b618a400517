using QwenSharp.Generation;

namespace QwenSharp.Tests.Generation;

public class SamplerTests
{
    [Fact]
    public void XoshiroMatchesTheReferenceVectors()
    {
        // xoshiro256** from state {1, 2, 3, 4}: the first ten outputs of the reference C code (as in rand_xoshiro's tests).
        var x = new Xoshiro256StarStar(1, 2, 3, 4);
        ulong[] expected = [11520, 0, 1509978240, 1215971899390074240, 1216172134540287360, 607988272756665600,
            16172922978634559625, 8476171486693032832, 10595114339597558777, 2904607092377533576];
        foreach (ulong e in expected) Assert.Equal(e, x.NextUInt64());
    }

    [Fact]
    public void SplitMixMatchesTheReference()
    {
        // SplitMix64 seeded with 0: the well-known first four outputs.
        ulong s = 0;
        Assert.Equal(0xE220A8397B1DCDAFUL, Xoshiro256StarStar.SplitMix64(ref s));
        Assert.Equal(0x6E789E6AA1B965F4UL, Xoshiro256StarStar.SplitMix64(ref s));
        Assert.Equal(0x06C45D188009454FUL, Xoshiro256StarStar.SplitMix64(ref s));
        Assert.Equal(0xF88BB8A8724C81ECUL, Xoshiro256StarStar.SplitMix64(ref s));
    }

    [Theory]
    // Draws over ten equal logits, computed by an independent Python implementation of SplitMix64 seeding,
    // xoshiro256**, the 53-bit double and the inverse-CDF walk: the tokens a seed gives must never change.
    [InlineData(42, new[] { 0, 3, 6, 9, 9, 7, 7, 8, 7, 5, 6, 2 })]
    [InlineData(7, new[] { 7, 2, 8, 9, 9, 8, 0, 1, 4, 1, 5, 7 })]
    public void SeededDrawsArePinned(long seed, int[] expected)
    {
        var random = new Xoshiro256StarStar((ulong)seed);
        float[] logits = new float[10];
        float[] weights = new float[10];
        foreach (int e in expected) Assert.Equal(e, TokenSampler.Sample(logits, random, weights));
    }

    [Fact]
    public void GreedyTakesTheLowestIdAmongEqualMaxima()
    {
        Assert.Equal(1, TokenSampler.Greedy([0f, 3f, 1f, 3f]));
        Assert.Equal(2, TokenSampler.Greedy([float.NegativeInfinity, -5f, -1f]));
    }

    [Fact]
    public void DrawFrequenciesFollowTheSoftmax()
    {
        float[] logits = [.. new[] { 0.1, 0.2, 0.3, 0.4 }.Select(p => (float)Math.Log(p))];
        float[] weights = new float[4];
        var random = new Xoshiro256StarStar(99);
        int[] counts = new int[4];
        const int draws = 40000;
        for (int i = 0; i < draws; i++) counts[TokenSampler.Sample(logits, random, weights)]++;
        // Standard deviation of a frequency is at most 0.0025 here; allow four.
        for (int i = 0; i < 4; i++) Assert.InRange(counts[i] / (double)draws, 0.1 * (i + 1) - 0.01, 0.1 * (i + 1) + 0.01);
    }

    [Fact]
    public void MaskedTokensAreNeverDrawn()
    {
        float[] logits = [float.NegativeInfinity, 0f, float.NegativeInfinity, 0f, float.NegativeInfinity];
        float[] weights = new float[5];
        var random = new Xoshiro256StarStar(1);
        for (int i = 0; i < 2000; i++) Assert.True(TokenSampler.Sample(logits, random, weights) is 1 or 3);
    }

    [Fact]
    public void LogprobsAreTheLogSoftmaxOfRawLogits()
    {
        double[] probs = [0.1, 0.2, 0.3, 0.4];
        float[] logits = [.. probs.Select(p => (float)Math.Log(p) + 3f)]; // a shift changes nothing
        var lp = LogprobCalculator.Compute(logits, 1, 2);
        Assert.Equal(1, lp.TokenId);
        Assert.Equal(Math.Log(0.2), lp.Logprob, 5);
        Assert.Equal(3, lp.Rank); // 0.4, 0.3 and itself are at least as likely (vLLM's rank)
        Assert.Equal([3, 2], lp.TopLogprobs.Select(t => t.TokenId));
        Assert.Equal(Math.Log(0.4), lp.TopLogprobs[0].Logprob, 5);
        Assert.Equal(Math.Log(0.3), lp.TopLogprobs[1].Logprob, 5);
    }

    [Fact]
    public void TopLogprobsBreakTiesByLowerId()
    {
        var lp = LogprobCalculator.Compute([1f, 2f, 2f, 2f, 0f], 4, 2);
        Assert.Equal([1, 2], lp.TopLogprobs.Select(t => t.TokenId));
        Assert.Equal(5, lp.Rank);
        Assert.Empty(LogprobCalculator.Compute([1f, 2f], 0, 0).TopLogprobs);
    }
}
