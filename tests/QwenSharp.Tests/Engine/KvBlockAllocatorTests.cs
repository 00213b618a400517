using QwenSharp.Engine;

namespace QwenSharp.Tests.Engine;

public class KvBlockAllocatorTests
{
    [Fact]
    public void AllocatesEveryBlockOnceThenRefuses()
    {
        var pool = new KvBlockAllocator(numBlocks: 5, blockSize: 4);
        var got = Enumerable.Range(0, 5).Select(_ => pool.Allocate()).ToList();
        Assert.Equal(new[] { 0, 1, 2, 3, 4 }, got.Order());
        Assert.Equal(0, pool.NumFree);
        Assert.Equal(1.0, pool.Usage);
        var e = Assert.Throws<InvalidOperationException>(() => pool.Allocate());
        Assert.Contains("5", e.Message);
    }

    [Fact]
    public void ForkSharesABlockUntilTheLastOwnerFreesIt()
    {
        var pool = new KvBlockAllocator(4, 4);
        int b = pool.Allocate();
        pool.Fork(b);
        pool.Fork(b);
        Assert.Equal(3, pool.RefCount(b));
        pool.Free(b);
        pool.Free(b);
        Assert.Equal(3, pool.NumFree);
        pool.Free(b);
        Assert.Equal(4, pool.NumFree);
        Assert.Equal(0, pool.RefCount(b));
        Assert.Throws<InvalidOperationException>(() => pool.Free(b));
    }

    [Fact]
    public void AFreeBlockWithoutCachedContentCannotBeShared()
    {
        var pool = new KvBlockAllocator(2, 4);
        int b = pool.Allocate();
        pool.Free(b);
        Assert.Throws<InvalidOperationException>(() => pool.Fork(b));
        Assert.Throws<InvalidOperationException>(() => pool.MarkCached(b));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Free(2));
    }

    [Fact]
    public void UncachedFreedBlocksAreReusedBeforeCachedOnesWhichGoLeastRecentlyFreedFirst()
    {
        var pool = new KvBlockAllocator(4, 4);
        int[] b = Enumerable.Range(0, 4).Select(_ => pool.Allocate()).ToArray();
        pool.MarkCached(b[0]);
        pool.MarkCached(b[1]);
        pool.Free(b[1]);   // cached: tail
        pool.Free(b[0]);   // cached: tail, after b1
        pool.Free(b[2]);   // plain: head
        Assert.Equal(new[] { b[2], b[1], b[0] }, pool.FreeQueue());

        var evicted = new List<int>();
        pool.Evicted = evicted.Add;
        Assert.Equal(b[2], pool.Allocate());
        Assert.Empty(evicted);
        Assert.Equal(b[1], pool.Allocate());
        Assert.Equal(new[] { b[1] }, evicted);
        Assert.False(pool.IsCached(b[1]));
    }

    [Fact]
    public void ForkRevivesAFreeCachedBlockAndAllocateBumpsTheGeneration()
    {
        var pool = new KvBlockAllocator(2, 4);
        int b = pool.Allocate();
        int generation = pool.Generation(b);
        pool.MarkCached(b);
        pool.Free(b);
        Assert.Equal(2, pool.NumFree);
        pool.Fork(b);
        Assert.Equal(1, pool.NumFree);
        Assert.Equal(1, pool.RefCount(b));
        Assert.Equal(generation, pool.Generation(b));
        Assert.DoesNotContain(b, pool.FreeQueue());
        pool.Free(b);
        pool.Allocate();                                  // the plain block first
        Assert.Equal(b, pool.Allocate());                 // then the cached one, evicted
        Assert.NotEqual(generation, pool.Generation(b));
    }
}
