using QwenSharp.Engine;

namespace QwenSharp.Tests.Engine;

/// <summary>Books that must balance between steps, whatever happened.</summary>
internal static class SchedulerInvariants
{
    public static void Check(Scheduler scheduler)
    {
        var blocks = scheduler.Blocks;
        int blockSize = scheduler.Options.BlockSize;
        var owners = new int[blocks.NumBlocks];
        foreach (var seq in scheduler.Running)
        {
            Assert.Equal(SequenceStatus.Running, seq.Status);
            Assert.True(seq.NumBlocks * blockSize >= seq.NumComputed, $"sequence {seq.Id} has computed tokens outside its blocks");
            Assert.True(seq.NumComputed < seq.NumTokens, $"sequence {seq.Id} has nothing left to compute but is running");
            if (scheduler.PrefixCache is not null) Assert.Equal(seq.NumComputed / blockSize, seq.Chain.Count);
            var distinct = new HashSet<int>();
            for (int b = 0; b < seq.NumBlocks; b++)
            {
                Assert.True(distinct.Add(seq.BlockTable[b]), $"sequence {seq.Id} holds block {seq.BlockTable[b]} twice");
                owners[seq.BlockTable[b]]++;
            }
        }
        foreach (var seq in scheduler.Waiting)
        {
            Assert.Equal(SequenceStatus.Waiting, seq.Status);
            Assert.Equal(0, seq.NumBlocks);
            Assert.Equal(0, seq.NumComputed);
        }
        Assert.True(scheduler.NumRunning <= scheduler.Options.MaxNumSeqs);
        for (int b = 0; b < blocks.NumBlocks; b++)
            Assert.True(owners[b] == blocks.RefCount(b), $"block {b}: {owners[b]} owners but reference count {blocks.RefCount(b)}");
        var queue = blocks.FreeQueue().ToList();
        Assert.Equal(blocks.NumFree, queue.Count);
        Assert.Equal(queue.Count, queue.Distinct().Count());
        Assert.All(queue, b => Assert.Equal(0, blocks.RefCount(b)));
        Assert.Equal(blocks.NumBlocks - blocks.NumFree, owners.Count(o => o > 0));
        // Running sequences are in order of arrival, so the last is the newest (the one preempted first).
        for (int i = 1; i < scheduler.Running.Count; i++)
            Assert.True(scheduler.Running[i - 1].Arrival < scheduler.Running[i].Arrival);
    }

    public static void AssertAllFree(Scheduler scheduler)
    {
        Assert.False(scheduler.HasUnfinished);
        Assert.Equal(scheduler.Blocks.NumBlocks, scheduler.Blocks.NumFree);
        for (int b = 0; b < scheduler.Blocks.NumBlocks; b++) Assert.Equal(0, scheduler.Blocks.RefCount(b));
    }
}
