using QwenSharp.Generation;
using QwenSharp.Generation.Stages;

namespace QwenSharp.Tests.Generation;

/// <summary>Each stage on distributions small enough to check by hand.</summary>
public class StageTests
{
    private static readonly float NegInf = float.NegativeInfinity;

    private static TokenHistory History(int[] prompt, params int[] output)
    {
        var h = new TokenHistory(prompt);
        foreach (int id in output) h.Append(id);
        return h;
    }

    /// <summary>Logits whose softmax is exactly proportional to <paramref name="probs"/> (log p).</summary>
    private static float[] LogitsOf(params double[] probs) => [.. probs.Select(p => p > 0 ? (float)Math.Log(p) : NegInf)];

    private static bool[] Kept(float[] logits) => [.. logits.Select(x => x > NegInf)];

    [Fact]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegativeOncePerDistinctId()
    {
        // HF RepetitionPenaltyLogitsProcessor: score < 0 ? score * p : score / p, over prompt and output ids.
        float[] logits = [2f, -2f, 1f, 4f, -1f];
        new RepetitionPenaltyStage(2f).Apply(logits, History([0, 1, 1], 3, 3));
        Assert.Equal([1f, -4f, 1f, 2f, -1f], logits);
    }

    [Fact]
    public void PresenceAndFrequencyPenaltiesCountOutputOnly()
    {
        // vLLM: logits -= frequency * count + presence * (count > 0), counts over output tokens.
        float[] logits = [1f, 1f, 1f, 1f];
        new PresenceFrequencyPenaltyStage(0.5f, 0.25f).Apply(logits, History([0, 0, 0], 1, 2, 2, 2));
        Assert.Equal([1f, 1f - 0.75f, 1f - 1.25f, 1f], logits);
    }

    [Fact]
    public void LogitBiasAddsAndIgnoresIdsBeyondTheVocabulary()
    {
        float[] logits = [0f, 0f, 0f];
        new LogitBiasStage(new Dictionary<int, double> { [1] = 5, [2] = -100, [7] = 3 }).Apply(logits, History([]));
        Assert.Equal([0f, 5f, -100f], logits);
    }

    [Fact]
    public void MinTokensForbidsStopIdsUntilEnoughOutput()
    {
        var stage = new MinTokensStage(2, [1, 3]);
        float[] logits = [0f, 9f, 0f, 9f];
        stage.Apply(logits, History([5], 0));
        Assert.Equal([0f, NegInf, 0f, NegInf], logits);
        float[] later = [0f, 9f, 0f, 9f];
        stage.Apply(later, History([5], 0, 2));
        Assert.Equal([0f, 9f, 0f, 9f], later);
    }

    [Fact]
    public void TemperatureDivides()
    {
        float[] logits = [2f, -1f, NegInf, 0f];
        new TemperatureStage(0.5f).Apply(logits, History([]));
        Assert.Equal([4f, -2f, NegInf, 0f], logits);
    }

    [Fact]
    public void TopKKeepsTheKHighest()
    {
        float[] logits = [0.1f, 3f, -2f, 2f, 5f, 1f];
        new TopKStage(3, new SamplingScratch()).Apply(logits, History([]));
        Assert.Equal([false, true, false, true, true, false], Kept(logits));
        Assert.Equal(3f, logits[1]); // kept values are untouched
    }

    [Fact]
    public void TopKKeepsTiesWithTheKthValueAsVllm()
    {
        float[] logits = [1f, 2f, 2f, 2f, 0f];
        new TopKStage(2, new SamplingScratch()).Apply(logits, History([]));
        Assert.Equal([false, true, true, true, false], Kept(logits));
    }

    [Fact]
    public void TopKLargerThanTheCandidatesChangesNothing()
    {
        float[] logits = [1f, NegInf, 2f];
        new TopKStage(2, new SamplingScratch()).Apply(logits, History([]));
        Assert.Equal([1f, NegInf, 2f], logits);
    }

    [Fact]
    public void TopKMatchesAFullSortForSmallAndLargeK()
    {
        // k up to 1024 goes through the heap, larger k through selection; both must equal the sorted rule.
        var rng = new Random(11);
        var scratch = new SamplingScratch();
        for (int trial = 0; trial < 60; trial++)
        {
            int n = rng.Next(1, 4000);
            int k = trial % 2 == 0 ? rng.Next(1, 1025) : rng.Next(1025, 4000);
            float[] logits = [.. Enumerable.Range(0, n).Select(_ => rng.NextDouble() < 0.1 ? NegInf : (float)rng.Next(-500, 500) / 10)];
            float[] finite = [.. logits.Where(x => x > NegInf).OrderDescending()];
            bool[] expected = finite.Length <= k ? Kept(logits) : [.. logits.Select(x => x >= finite[k - 1])];
            new TopKStage(k, scratch).Apply(logits, History([]));
            Assert.Equal(expected, Kept(logits));
        }
    }

    [Theory]
    // probs 0.5, 0.3, 0.15, 0.05: ascending cumulative 0.05, 0.20, 0.50, 1.0; drop while cumulative <= 1 - top_p.
    [InlineData(0.75, new[] { true, true, false, false })] // 1 - p = 0.25: drops 0.05 (0.05) and 0.15 (0.20)
    [InlineData(0.85, new[] { true, true, true, false })]  // 0.15: drops only 0.05
    [InlineData(0.4, new[] { true, false, false, false })] // 0.6: drops all but the top
    [InlineData(0.01, new[] { true, false, false, false })] // the top token always stays
    public void TopPKeepsTheNucleus(double topP, bool[] expected)
    {
        float[] logits = LogitsOf(0.5, 0.3, 0.15, 0.05);
        new TopPStage((float)topP, new SamplingScratch()).Apply(logits, History([]));
        Assert.Equal(expected, Kept(logits));
    }

    [Fact]
    public void TopPOnEqualProbabilitiesKeepsTheLowerIds()
    {
        float[] logits = [0f, 0f, 0f, 0f]; // 0.25 each; top_p 0.5: two ids kept
        new TopPStage(0.5f, new SamplingScratch()).Apply(logits, History([]));
        Assert.Equal([true, true, false, false], Kept(logits));
    }

    [Fact]
    public void TopPMatchesAPlainFullSortOnRandomDistributions()
    {
        // The stage sorts only tokens above (1 - p) / N; the plain rule sorts everything. They must agree.
        var rng = new Random(1234);
        var scratch = new SamplingScratch();
        for (int trial = 0; trial < 200; trial++)
        {
            int n = rng.Next(1, 3000);
            float topP = (float)(0.05 + 0.95 * rng.NextDouble());
            float spread = (float)(1 + 15 * rng.NextDouble());
            float[] logits = new float[n];
            for (int i = 0; i < n; i++) logits[i] = rng.NextDouble() < 0.05 ? NegInf : (float)(spread * (rng.NextDouble() * 2 - 1));
            logits[rng.Next(n)] = 1f;
            bool[] expected = PlainTopP(logits, topP);
            new TopPStage(topP, scratch).Apply(logits, History([]));
            Assert.Equal(expected, Kept(logits));
        }
    }

    private static bool[] PlainTopP(float[] logits, float topP)
    {
        float[] probs = new float[logits.Length];
        TopPStage.Softmax(logits, probs);
        int[] order = [.. Enumerable.Range(0, logits.Length).OrderBy(i => probs[i]).ThenByDescending(i => i)];
        bool[] kept = [.. logits.Select(x => x > NegInf)];
        double cumulative = 0;
        for (int r = 0; r < order.Length - 1; r++)
        {
            cumulative += probs[order[r]];
            if (cumulative <= 1.0 - topP) kept[order[r]] = false;
        }
        return kept;
    }

    [Fact]
    public void MinPDropsTokensBelowAFractionOfTheMostLikely()
    {
        // probs 0.5, 0.3, 0.15, 0.05 with min_p 0.2: threshold 0.1 drops only 0.05.
        float[] logits = LogitsOf(0.5, 0.3, 0.15, 0.05);
        new MinPStage(0.2f).Apply(logits, History([]));
        Assert.Equal([true, true, true, false], Kept(logits));
        // min_p 0.4: threshold 0.2 drops 0.15 and 0.05.
        float[] again = LogitsOf(0.5, 0.3, 0.15, 0.05);
        new MinPStage(0.4f).Apply(again, History([]));
        Assert.Equal([true, true, false, false], Kept(again));
    }

    [Fact]
    public void SelectionFindsOrderStatistics()
    {
        var rng = new Random(5);
        for (int trial = 0; trial < 300; trial++)
        {
            int n = rng.Next(1, 200);
            float[] a = [.. Enumerable.Range(0, n).Select(_ => (float)rng.Next(0, 10))]; // many duplicates
            float[] sorted = [.. a.Order()];
            int k = rng.Next(n);
            Assert.Equal(sorted[k], TopKStage.SelectAscending(a.ToArray(), k));
        }
    }
}
