using QwenSharp.Formats;
using QwenSharp.Generation;

namespace QwenSharp.Tests.Generation;

public class AllocationTests
{
    [Fact]
    public void TheChainAllocatesNothingPerTokenAfterWarmUp()
    {
        // Qwen2's vocabulary size and generation defaults (repetition penalty, temperature, top-k 20, top-p 0.8),
        // plus min-p and the other stages, over a realistic spread of logits.
        const int vocabulary = 151_936;
        var config = GenerationConfig.Load(Fixtures.Config("qwen2-7b-instruct.generation_config.json"));
        var p = new SamplingParams { MinP = 0.05, PresencePenalty = 0.5, Seed = 1, LogitBias = new Dictionary<int, double> { [5] = 2 } }.Resolve(config);
        var pipeline = new SamplingPipeline(p);
        var history = new TokenHistory([.. Enumerable.Range(0, 300)]);
        var random = new Xoshiro256StarStar(1);
        var rng = new Random(2);
        float[] raw = [.. Enumerable.Range(0, vocabulary).Select(_ => (float)(rng.NextDouble() * 20 - 10))];
        float[] work = new float[vocabulary];

        for (int i = 0; i < 3; i++)
        {
            raw.CopyTo(work, 0);
            pipeline.Choose(work, history, random);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++)
        {
            raw.CopyTo(work, 0);
            pipeline.Choose(work, history, random);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

        // Top-p alone (no top-k first) must still be allocation-free.
        var topPOnly = new SamplingPipeline(new SamplingParams { TopP = 0.9, Seed = 1 }.Resolve());
        raw.CopyTo(work, 0);
        topPOnly.Choose(work, history, random);
        before = GC.GetAllocatedBytesForCurrentThread();
        raw.CopyTo(work, 0);
        topPOnly.Choose(work, history, random);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
