using QwenSharp.Engine;
using Xunit.Abstractions;

namespace QwenSharp.Tests.Engine;

/// <summary>
/// Thousands of random submits (under plain RoPE or YaRN), aborts (also while a step runs), recomputes under YaRN and
/// steps under tight limits, so preemption, chunking, prefix sharing and eviction all happen; the books must balance after every step and every
/// finished request must have produced what it produces alone.
/// </summary>
public class SchedulerSoakTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1, 12, 4, 6, 16, true)]     // few blocks: constant preemption
    [InlineData(2, 40, 4, 8, 10, true)]     // small budget: chunked prompts beside decodes
    [InlineData(3, 30, 8, 3, 64, true)]     // few sequences, big blocks
    [InlineData(4, 16, 4, 6, 16, false)]    // no prefix cache
    [InlineData(5, 64, 2, 12, 32, true)]    // tiny blocks, much sharing
    public void RandomTrafficKeepsTheBooksAndTheOutputs(int seed, int blocks, int blockSize, int maxSeqs, int budget, bool prefix)
    {
        var options = new SchedulerOptions
        {
            NumBlocks = blocks, BlockSize = blockSize, MaxNumSeqs = maxSeqs, MaxNumBatchedTokens = budget,
            MaxModelLen = 48, EnablePrefixCaching = prefix,
        };
        var d = new SchedulerDriver(options, stopToken: 0);
        var random = new Random(seed);
        int capacity = Math.Min(options.MaxModelLen, blocks * blockSize);
        var prefixes = Enumerable.Range(0, 4).Select(_ => Enumerable.Range(0, random.Next(1, 20)).Select(_ => random.Next(1, 1000)).ToArray()).ToArray();

        int recomputes = 0;
        for (int op = 0; op < 3000; op++)
        {
            int roll = random.Next(100);
            if (roll < 25)
            {
                var prompt = (random.Next(3) == 0 ? Array.Empty<int>() : prefixes[random.Next(prefixes.Length)])
                    .Concat(Enumerable.Range(0, random.Next(1, 8)).Select(_ => random.Next(1, 1000)))
                    .Take(capacity - 1).ToArray();
                int maxTokens = random.Next(1, Math.Min(capacity - prompt.Length, 16) + 1);
                d.Submit(prompt, maxTokens, random.Next(2) == 0 ? QwenSharp.Model.RopeMode.Plain : QwenSharp.Model.RopeMode.Yarn);
            }
            else if (roll < 27 && d.Live.ToList() is { Count: > 0 } toRecompute)
            {
                Assert.True(d.Scheduler.Recompute(toRecompute[random.Next(toRecompute.Count)], QwenSharp.Model.RopeMode.Yarn));
                recomputes++;
            }
            else if (roll < 30 && d.Live.ToList() is { Count: > 0 } live)
            {
                Assert.True(d.Abort(live[random.Next(live.Count)]));
            }
            else
            {
                bool abortMidStep = random.Next(20) == 0;
                d.Step(abortMidStep ? () =>
                {
                    var live = d.Live.ToList();
                    if (live.Count > 0) d.Abort(live[random.Next(live.Count)]);
                } : null);
            }
            SchedulerInvariants.Check(d.Scheduler);
        }
        d.RunUntilIdle();

        output.WriteLine($"steps {d.Steps}, finished {d.Finished.Count}, aborted {d.Aborted.Count}, preemptions {d.Preemptions}, " +
            $"computed {d.Model.ComputedTokens} tokens, cache hits {d.Scheduler.PrefixCache?.HitTokens} of {d.Scheduler.PrefixCache?.QueriedTokens}");
        SchedulerInvariants.AssertAllFree(d.Scheduler);
        d.AssertOutputsMatchReference();
        Assert.True(d.Finished.Count > 100, $"only {d.Finished.Count} requests finished");
        Assert.Equal(d.Preemptions, d.Scheduler.NumPreemptions);
        Assert.Equal(recomputes, d.Scheduler.NumRecomputes);
        if (seed == 1) Assert.True(d.Preemptions > 0, "the small pool never preempted");
        if (prefix) Assert.True(d.Scheduler.PrefixCache!.HitTokens > 0);
    }
}
