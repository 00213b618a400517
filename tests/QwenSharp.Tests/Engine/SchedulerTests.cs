using QwenSharp.Engine;
using Xunit.Abstractions;

namespace QwenSharp.Tests.Engine;

public class SchedulerTests(ITestOutputHelper output)
{
    private static SchedulerOptions Options(int blocks = 64, int blockSize = 4, int maxSeqs = 16, int budget = 64, int maxLen = 128, bool prefix = true) =>
        new() { NumBlocks = blocks, BlockSize = blockSize, MaxNumSeqs = maxSeqs, MaxNumBatchedTokens = budget, MaxModelLen = maxLen, EnablePrefixCaching = prefix };

    private static int[] Prompt(int seed, int length) => Enumerable.Range(0, length).Select(i => (seed * 31 + i * 7) % 1000 + 100).ToArray();

    [Fact]
    public void ARequestSubmittedMidRunJoinsAtTheNextStepAndFinishedOnesLeave()
    {
        var d = new SchedulerDriver(Options());
        long a = d.Submit(Prompt(1, 6), maxTokens: 5);
        var plan = d.Step();
        Assert.Equal(a, Assert.Single(plan.Sequences).SequenceId);
        Assert.Equal(6, plan.NumTokens);
        d.Step();

        long b = d.Submit(Prompt(2, 9), maxTokens: 6);
        plan = d.Step();
        Assert.Equal(new[] { a, b }, plan.Sequences.Select(s => s.SequenceId));
        Assert.Equal(1, plan.Sequences[0].Tokens.Length);      // a's decode token
        Assert.Equal(9, plan.Sequences[1].Tokens.Length);      // b's whole prompt, in the same step
        Assert.All(plan.Sequences, s => Assert.True(s.WantsLogits));
        Assert.Equal(2, plan.NumLogits);

        d.Step();
        d.Step();                                               // a has its 5 tokens: leaves
        Assert.Contains(a, d.Finished);
        plan = d.Step();
        Assert.Equal(b, Assert.Single(plan.Sequences).SequenceId);
        d.RunUntilIdle();
        Assert.Equal(2, d.Finished.Count);
        d.AssertOutputsMatchReference();
        SchedulerInvariants.AssertAllFree(d.Scheduler);
    }

    [Fact]
    public void RecomputeFreesTheBlocksAndPrefillsEveryTokenAgainUnderTheNewTable()
    {
        var s = new Scheduler(Options(budget: 64));
        var prompt = Prompt(7, 9);
        long id = s.Submit(prompt, maxTokens: 10, QwenSharp.Model.RopeMode.Plain);
        var plan = s.Schedule();
        Assert.Equal(QwenSharp.Model.RopeMode.Plain, Assert.Single(plan.Sequences).Rope);
        s.Update([new SequenceOutcome(id, 500, false)]);
        s.Schedule();
        s.Update([new SequenceOutcome(id, 501, false)]);
        Assert.Equal(11, s.NumTokens(id));
        Assert.Equal(3, s.Blocks.NumBlocks - s.Blocks.NumFree);   // 10 computed tokens in blocks of 4

        Assert.True(s.Recompute(id, QwenSharp.Model.RopeMode.Yarn));
        Assert.Equal(0, s.Blocks.NumBlocks - s.Blocks.NumFree);
        Assert.Equal(1, s.NumWaiting);
        Assert.Equal(1, s.NumRecomputes);
        Assert.Equal(0, s.NumPreemptions);
        SchedulerInvariants.Check(s);

        // All 11 tokens again from position 0 under YaRN: the plain blocks cached from the first pass are not reused.
        plan = s.Schedule();
        var again = Assert.Single(plan.Sequences);
        Assert.Equal((0, 11, QwenSharp.Model.RopeMode.Yarn, true), (again.FirstPosition, again.Tokens.Length, again.Rope, again.WantsLogits));
        Assert.Equal([.. prompt, 500, 501], again.Tokens.ToArray());
        s.Update([new SequenceOutcome(id, 502, false)]);
        Assert.False(s.Recompute(999, QwenSharp.Model.RopeMode.Yarn));
    }

    [Fact]
    public void AFailedStepIsForgottenTheFailedSequenceLeavesAndTheOthersFinishAsIfItNeverRan()
    {
        var d = new SchedulerDriver(Options(budget: 16));
        var shared = Prompt(3, 12);
        long a = d.Submit(shared.Concat(Prompt(4, 5)).ToArray(), maxTokens: 6);
        long b = d.Submit(Prompt(5, 7), maxTokens: 6);
        d.Step();
        long c = d.Submit(shared.Concat(Prompt(6, 9)).ToArray(), maxTokens: 6); // finds a's prefix blocks in the cache

        // The step's forward "runs" (the fake model writes its KV) and then fails: the engine cancels the step.
        var plan = d.Scheduler.Schedule();
        Assert.Contains(plan.Sequences, s => s.SequenceId == c);
        d.Model.Execute(plan, id => [.. d.Prompt(id), .. d.Output(id)]);
        Assert.True(d.Scheduler.CancelStep());
        Assert.False(d.Scheduler.CancelStep()); // nothing pending any more
        SchedulerInvariants.Check(d.Scheduler);
        d.Abort(c);

        d.RunUntilIdle();
        Assert.Equal(new HashSet<long> { a, b }, d.Finished);
        d.AssertOutputsMatchReference();
        SchedulerInvariants.AssertAllFree(d.Scheduler);
    }

    [Fact]
    public void ALongPromptIsComputedInChunksWithinTheTokenBudget()
    {
        var d = new SchedulerDriver(Options(budget: 8, maxSeqs: 4));
        long a = d.Submit(Prompt(1, 3), maxTokens: 10);
        d.Step();                                               // a's prompt
        long b = d.Submit(Prompt(2, 20), maxTokens: 2);
        var chunks = new List<(int First, int Count, bool Logits)>();
        for (int step = 0; step < 3; step++)
        {
            var plan = d.Step();
            Assert.Equal(a, plan.Sequences[0].SequenceId);      // the running decode comes first
            Assert.Equal(1, plan.Sequences[0].Tokens.Length);
            var s = plan.Sequences[1];
            Assert.Equal(b, s.SequenceId);
            chunks.Add((s.FirstPosition, s.Tokens.Length, s.WantsLogits));
            Assert.Equal(1 + s.Tokens.Length, plan.NumTokens);
        }
        Assert.Equal(new[] { (0, 7, false), (7, 7, false), (14, 6, true) }, chunks);
        d.RunUntilIdle();
        d.AssertOutputsMatchReference();
        SchedulerInvariants.AssertAllFree(d.Scheduler);
    }

    [Fact]
    public void WaitingRequestsBeyondMaxNumSeqsWaitForARunningOneToFinish()
    {
        var d = new SchedulerDriver(Options(maxSeqs: 2));
        long[] ids = Enumerable.Range(0, 3).Select(i => d.Submit(Prompt(i, 5), maxTokens: 2 + i)).ToArray();
        var plan = d.Step();
        Assert.Equal(ids.Take(2), plan.Sequences.Select(s => s.SequenceId));
        Assert.Equal(1, d.Scheduler.NumWaiting);
        d.Step();                                               // the first has its 2 tokens
        plan = d.Step();
        Assert.Equal(new[] { ids[1], ids[2] }, plan.Sequences.Select(s => s.SequenceId));
        d.RunUntilIdle();
        d.AssertOutputsMatchReference();
    }

    [Fact]
    public void ASecondRequestWithTheSamePrefixComputesOnlyItsSuffix()
    {
        var d = new SchedulerDriver(Options());
        int[] system = Prompt(7, 8);                            // two full blocks of 4
        long a = d.Submit(system.Concat(new[] { 1, 2, 3 }).ToArray(), maxTokens: 4);
        d.RunUntilIdle();
        long before = d.Model.ComputedTokens;

        long b = d.Submit(system.Concat(new[] { 4, 5, 6, 7, 8 }).ToArray(), maxTokens: 4);
        var plan = d.Step();
        var s = Assert.Single(plan.Sequences);
        Assert.Equal(8, s.FirstPosition);
        Assert.Equal(new[] { 4, 5, 6, 7, 8 }, s.Tokens.ToArray());
        Assert.Equal(8, s.CachedTokens);
        Assert.Equal(8, d.Scheduler.CachedTokens(b));
        Assert.Equal(5, d.Model.ComputedTokens - before);
        d.RunUntilIdle();

        var cache = d.Scheduler.PrefixCache!;
        Assert.Equal(8, cache.HitTokens);
        Assert.Equal(11 + 13, cache.QueriedTokens);
        d.AssertOutputsMatchReference();
        SchedulerInvariants.AssertAllFree(d.Scheduler);
        Assert.Contains(a, d.Finished);
    }

    [Fact]
    public void RunningSequencesShareCachedPrefixBlocks()
    {
        var d = new SchedulerDriver(Options());
        int[] system = Prompt(3, 8);
        long a = d.Submit(system.Append(1).ToArray(), maxTokens: 6);
        d.Step();
        long b = d.Submit(system.Append(2).ToArray(), maxTokens: 6);
        var plan = d.Step();
        var sa = plan.Sequences.Single(s => s.SequenceId == a);
        var sb = plan.Sequences.Single(s => s.SequenceId == b);
        Assert.Equal(sa.BlockTable.Span[..2].ToArray(), sb.BlockTable.Span[..2].ToArray());
        Assert.Equal(2, d.Scheduler.Blocks.RefCount(sa.BlockTable.Span[0]));
        Assert.NotEqual(sa.BlockTable.Span[2], sb.BlockTable.Span[2]);
        SchedulerInvariants.Check(d.Scheduler);
        d.RunUntilIdle();
        d.AssertOutputsMatchReference();
        SchedulerInvariants.AssertAllFree(d.Scheduler);
    }

    [Fact]
    public void AFullyCachedPromptStillComputesItsLastBlockForTheLogits()
    {
        var d = new SchedulerDriver(Options());
        int[] prompt = Prompt(5, 8);
        d.Submit(prompt, maxTokens: 1);
        d.RunUntilIdle();
        d.Submit(prompt, maxTokens: 3);
        var s = Assert.Single(d.Step().Sequences);
        Assert.Equal(4, s.FirstPosition);                       // (8 - 1) / 4 = 1 block from the cache
        Assert.Equal(4, s.Tokens.Length);
        Assert.True(s.WantsLogits);
        d.RunUntilIdle();
        d.AssertOutputsMatchReference();
    }

    [Fact]
    public void CachedPrefixesSurviveUntilThePoolNeedsTheirBlocksAndTheLeastRecentlyUsedGoFirst()
    {
        var d = new SchedulerDriver(Options(blocks: 8));
        int[] old = Prompt(1, 13), recent = Prompt(2, 13), other = Prompt(3, 13);
        d.Submit(old, 1);
        d.RunUntilIdle();
        d.Submit(recent, 1);
        d.RunUntilIdle();                                       // 3 cached blocks each: 6 of 8
        Assert.Equal(6, d.Scheduler.PrefixCache!.CachedBlocks);
        Assert.Equal(8, d.Scheduler.Blocks.NumFree);            // cached but unowned blocks count as free

        d.Submit(other, 1);                                     // needs 4 blocks: 2 never used, then 2 of the oldest
        d.RunUntilIdle();
        long computed = d.Model.ComputedTokens;
        d.Submit(recent, 1);
        d.RunUntilIdle();
        Assert.Equal(1, d.Model.ComputedTokens - computed);     // the recent prefix is still all there
        computed = d.Model.ComputedTokens;
        d.Submit(old, 1);
        d.RunUntilIdle();
        Assert.Equal(9, d.Model.ComputedTokens - computed);     // the old one lost its last two blocks, kept its first
        d.AssertOutputsMatchReference();
        SchedulerInvariants.AssertAllFree(d.Scheduler);
    }

    [Fact]
    public void WithoutPrefixCachingEverythingIsComputed()
    {
        var d = new SchedulerDriver(Options(prefix: false));
        int[] prompt = Prompt(5, 12);
        d.Submit(prompt, maxTokens: 2);
        d.RunUntilIdle();
        d.Submit(prompt, maxTokens: 2);
        Assert.Equal(0, Assert.Single(d.Step().Sequences).FirstPosition);
        Assert.Null(d.Scheduler.PrefixCache);
        d.RunUntilIdle();
        SchedulerInvariants.AssertAllFree(d.Scheduler);
    }

    [Fact]
    public void WhenBlocksRunOutTheNewestIsPreemptedAndLaterFinishesWithTheSameTokens()
    {
        // 8 blocks of 4 tokens; three sequences of 4 + 8 tokens need 3 blocks each: 9 > 8.
        var d = new SchedulerDriver(Options(blocks: 8, prefix: false));
        long[] ids = Enumerable.Range(0, 3).Select(i => d.Submit(Prompt(10 + i, 4), maxTokens: 8)).ToArray();
        long? firstPreempted = null;
        while (d.Scheduler.HasUnfinished)
        {
            var plan = d.Step();
            if (firstPreempted is null && plan.Preempted.Count > 0)
            {
                firstPreempted = plan.Preempted[0];
                Assert.DoesNotContain(plan.Sequences, s => s.SequenceId == firstPreempted);
                Assert.Equal(firstPreempted, d.Scheduler.Waiting.First().Id);
            }
            SchedulerInvariants.Check(d.Scheduler);
        }
        Assert.Equal(ids[2], firstPreempted);
        Assert.True(d.Scheduler.NumPreemptions >= 1);
        Assert.Equal(3, d.Finished.Count);
        d.AssertOutputsMatchReference();
        SchedulerInvariants.AssertAllFree(d.Scheduler);
    }

    [Fact]
    public void WithCallerIdsTheLastSubmittedIsTheNewestWhateverItsId()
    {
        var scheduler = new Scheduler(Options(blocks: 8, prefix: false));
        long[] ids = { 100, 5, 50 };
        foreach (long id in ids) Assert.Equal(id, scheduler.Submit(id, Prompt((int)id, 4), 8));
        Assert.Throws<ArgumentException>(() => scheduler.Submit(5, Prompt(1, 4), 8));
        var tokens = ids.ToDictionary(id => id, id => Prompt((int)id, 4).ToList());
        for (int step = 0; ; step++)
        {
            var plan = scheduler.Schedule();
            if (plan.Preempted.Count > 0)
            {
                Assert.Equal(50, plan.Preempted[0]);
                break;
            }
            Assert.True(step < 20, "no preemption");
            scheduler.Update(plan.Sequences.Select(s => { tokens[s.SequenceId].Add(1); return new SequenceOutcome(s.SequenceId, 1, false); }).ToArray());
        }
        Assert.Equal(1, scheduler.Submit(Prompt(1, 4), 8));
        Assert.Equal(3, scheduler.Submit(2, Prompt(1, 4), 8) + 1);
        Assert.Equal(3, scheduler.Submit(Prompt(1, 4), 8));    // generated ids skip the ones in use
    }

    [Fact]
    public void APreemptedSequenceIsRecomputedFromItsPromptAndGeneratedTokens()
    {
        var d = new SchedulerDriver(Options(blocks: 8, prefix: false));
        long[] ids = Enumerable.Range(0, 3).Select(i => d.Submit(Prompt(10 + i, 4), maxTokens: 8)).ToArray();
        StepPlan plan;
        do plan = d.Step(); while (plan.Preempted.Count == 0);
        long victim = plan.Preempted[0];
        int generated = d.Output(victim).Count;
        Assert.True(generated > 0);
        do plan = d.Step(); while (!plan.Sequences.Any(s => s.SequenceId == victim));
        var s = plan.Sequences.Single(s => s.SequenceId == victim);
        Assert.Equal(0, s.FirstPosition);
        Assert.Equal(4 + generated, s.Tokens.Length);           // prompt and generated tokens again
        Assert.True(s.WantsLogits);
        d.RunUntilIdle();
        d.AssertOutputsMatchReference();
    }

    [Fact]
    public void ARequestThatCanNeverFitIsRefusedNamingBothCountsAndTheLimit()
    {
        var scheduler = new Scheduler(Options(blocks: 10, maxLen: 100));
        var e = Assert.Throws<RequestRefusedException>(() => scheduler.Submit(Prompt(1, 90), 20));
        Assert.Contains("100", e.Message);
        Assert.Contains("90", e.Message);
        Assert.Contains("20", e.Message);
        Assert.Equal((90, 20, 100), (e.PromptTokens, e.MaxTokens, e.Limit));

        e = Assert.Throws<RequestRefusedException>(() => scheduler.Submit(Prompt(1, 30), 20));   // 50 > 10 blocks of 4
        Assert.Contains("40", e.Message);
        Assert.Contains("30", e.Message);
        Assert.Equal(40, e.Limit);

        Assert.Throws<RequestRefusedException>(() => scheduler.Submit(Array.Empty<int>(), 5));
        Assert.Throws<RequestRefusedException>(() => scheduler.Submit(Prompt(1, 5), 0));
        Assert.Null(scheduler.Refusal(30, 10));
        Assert.NotNull(scheduler.Refusal(30, 11));
        Assert.False(scheduler.HasUnfinished);
        Assert.Equal(0, scheduler.NumWaiting);
    }

    [Fact]
    public void AbortFreesBlocksAtOnceWhetherRunningWaitingOrInTheMiddleOfAStep()
    {
        var d = new SchedulerDriver(Options(maxSeqs: 2, prefix: false));
        long a = d.Submit(Prompt(1, 9), maxTokens: 20);
        long b = d.Submit(Prompt(2, 5), maxTokens: 20);
        long c = d.Submit(Prompt(3, 5), maxTokens: 20);
        d.Step();
        int free = d.Scheduler.Blocks.NumFree;
        Assert.True(d.Abort(a));
        Assert.Equal(free + 3, d.Scheduler.Blocks.NumFree);       // 10 tokens (9 + one sampled, not computed) in 3 blocks
        Assert.True(d.Abort(c));                                 // still waiting
        Assert.Equal(0, d.Scheduler.NumWaiting);
        Assert.False(d.Abort(a));
        Assert.False(d.Scheduler.Abort(12345));

        // Aborted between Schedule and Update: its outcome is ignored and its blocks are already free.
        var plan = d.Scheduler.Schedule();
        Assert.Equal(b, Assert.Single(plan.Sequences).SequenceId);
        Assert.True(d.Scheduler.Abort(b));
        d.Scheduler.Update(new[] { new SequenceOutcome(b, 7, false) });
        Assert.Equal(d.Scheduler.Blocks.NumBlocks, d.Scheduler.Blocks.NumFree);
        Assert.True(d.Scheduler.Schedule().IsEmpty);
        SchedulerInvariants.AssertAllFree(d.Scheduler);
    }

    [Fact]
    public void TheSchedulerEndsASequenceAtItsMaxTokensEvenIfTheCallerDoesNot()
    {
        var scheduler = new Scheduler(Options());
        long id = scheduler.Submit(Prompt(1, 4), 2);
        scheduler.Schedule();
        scheduler.Update(new[] { new SequenceOutcome(id, 5, false) });
        scheduler.Schedule();
        scheduler.Update(new[] { new SequenceOutcome(id, 6, false) });
        SchedulerInvariants.AssertAllFree(scheduler);
    }

    [Fact]
    public void WrongCallsAreRefusedWithoutChangingTheBooks()
    {
        var scheduler = new Scheduler(Options(budget: 4, maxSeqs: 4));
        long id = scheduler.Submit(Prompt(1, 6), 3);
        var plan = scheduler.Schedule();
        Assert.False(plan.Sequences[0].WantsLogits);           // 4 of 6 tokens
        Assert.Throws<InvalidOperationException>(() => scheduler.Schedule());
        Assert.Throws<InvalidOperationException>(() => scheduler.Update(new[] { new SequenceOutcome(id, 1, false) }));
        scheduler.Update(ReadOnlySpan<SequenceOutcome>.Empty);
        plan = scheduler.Schedule();
        Assert.True(plan.Sequences[0].WantsLogits);
        Assert.Throws<InvalidOperationException>(() => scheduler.Update(ReadOnlySpan<SequenceOutcome>.Empty));
        Assert.Throws<InvalidOperationException>(() => scheduler.Update(new[] { new SequenceOutcome(id, 1, false), new SequenceOutcome(id, 2, false) }));
        scheduler.Update(new[] { new SequenceOutcome(id, 1, false) });
        Assert.Equal(7, scheduler.Find(id)!.NumTokens);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Scheduler(Options(budget: 0)));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Scheduler(Options(budget: 8, maxSeqs: 9)));
        Assert.Contains("MaxNumSeqs (9)", e.Message);
    }

    [Fact]
    public void DecodeStepsAllocateNothing()
    {
        var scheduler = new Scheduler(Options(blocks: 9000, maxSeqs: 32, budget: 512, maxLen: 1100));
        var outcomes = new SequenceOutcome[32];
        for (int i = 0; i < 32; i++) scheduler.Submit(Prompt(i % 4, 20), 1000);
        void Step()
        {
            var plan = scheduler.Schedule();
            int n = 0;
            for (int i = 0; i < plan.Sequences.Count; i++)
                if (plan.Sequences[i].WantsLogits) outcomes[n++] = new SequenceOutcome(plan.Sequences[i].SequenceId, 7, false);
            scheduler.Update(outcomes.AsSpan(0, n));
        }
        // Once the JIT has settled (its tier-up may allocate on this thread), a window of steps allocates nothing.
        long allocated = -1;
        for (int window = 0; window < 8 && allocated != 0; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++) Step();              // crosses block boundaries and caches the full blocks
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (allocated != 0) Thread.Sleep(50);
        }
        Assert.Equal(0, allocated);
        Assert.Equal(32, scheduler.NumRunning);
        double best = double.MaxValue;
        for (int w = 0; w < 5; w++)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < 10; i++) Step();
            best = Math.Min(best, clock.Elapsed.TotalMicroseconds / 10);
        }
        output.WriteLine($"Schedule + Update of 32 decoding sequences: {best:F1} µs per step (best of 5 windows of 10)");
    }
}
