using QwenSharp.Kernels;

namespace QwenSharp.Tests.Kernels;

public unsafe class WorkerPoolTests
{
    private static void MarkShare(void* context, int worker, int workers)
    {
        int* counts = (int*)context;
        Interlocked.Increment(ref counts[worker]);
        Interlocked.Exchange(ref counts[8], workers);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void EveryWorkerRunsEachJobOnce(int threads)
    {
        using var pool = new WorkerPool(threads);
        int* counts = stackalloc int[9];
        for (int job = 0; job < 30; job++) pool.Run(&MarkShare, counts);
        for (int i = 0; i < threads; i++) Assert.Equal(30, counts[i]);
        Assert.Equal(threads, counts[8]);
    }

    private static void CountPart(void* context, int part, int parts)
    {
        int* counts = (int*)context;
        Interlocked.Increment(ref counts[part]);
    }

    [Fact]
    public void EveryPartRunsExactlyOnceWhateverTheNumberOfParts()
    {
        using var pool = new WorkerPool(3);
        int* counts = stackalloc int[64];
        foreach (int parts in new[] { 1, 2, 5, 64 })
        {
            for (int i = 0; i < 64; i++) counts[i] = 0;
            for (int job = 0; job < 10; job++) pool.Run(&CountPart, counts, parts);
            for (int i = 0; i < 64; i++) Assert.Equal(i < parts ? 10 : 0, counts[i]);
        }
    }

    /// <summary>Part p waits until every earlier part has started (at most 10 s) and records whether they had: with
    /// parts claimed in increasing order each earlier part is already on a running thread, so none waits in vain.</summary>
    private static void WaitForEarlierParts(void* context, int part, int parts)
    {
        int* started = (int*)context;
        Volatile.Write(ref started[part], 1);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int p = 0; p < part; p++)
            while (Volatile.Read(ref started[p]) == 0)
            {
                if (clock.ElapsedMilliseconds > 10_000) { Interlocked.Increment(ref started[64]); return; }
                Thread.Yield();
            }
    }

    [Fact]
    public void PartsAreClaimedInOrderSoAPartMayWaitForEarlierOnes()
    {
        using var pool = new WorkerPool(3);
        int* started = stackalloc int[65];
        for (int job = 0; job < 20; job++)
        {
            for (int i = 0; i < 64; i++) started[i] = 0;
            pool.Run(&WaitForEarlierParts, started, 64);
        }
        Assert.Equal(0, started[64]);
    }

    [Fact]
    public void RefusesZeroThreads() => Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerPool(0));
}

public unsafe class WorkerPoolFailureTests
{
    private static void FailOnWorkerOne(void* context, int worker, int workers)
    {
        if (worker == 1) throw new InvalidOperationException("worker one failed");
    }

    private static void Nothing(void* context, int worker, int workers) { }

    [Fact]
    public void AWorkersExceptionReachesTheCallerAndThePoolKeepsWorking()
    {
        using var pool = new WorkerPool(2);
        var ex = Assert.Throws<InvalidOperationException>(() => pool.Run(&FailOnWorkerOne, null));
        Assert.Equal("worker one failed", ex.Message);
        pool.Run(&Nothing, null);
    }
}
