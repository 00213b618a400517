using QwenSharp.Engine;

namespace QwenSharp.Tests.Engine;

public class PrefixCacheTests
{
    private static (KvBlockAllocator, PrefixCache) Make(int blocks = 8) { var a = new KvBlockAllocator(blocks, 4); return (a, new PrefixCache(a)); }

    private static List<PrefixBlock> RegisterChain(KvBlockAllocator pool, PrefixCache cache, int[] tokens)
    {
        var chain = new List<PrefixBlock>();
        for (int b = 0; b < tokens.Length / 4; b++)
            chain.Add(cache.Register(b == 0 ? null : chain[^1], pool.Allocate(), tokens.AsSpan(b * 4, 4)));
        return chain;
    }

    [Fact]
    public void MatchFindsTheLongestEqualRunOfFullBlocks()
    {
        var (pool, cache) = Make();
        int[] a = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
        var chain = RegisterChain(pool, cache, a);
        Assert.Equal(3, cache.CachedBlocks);

        var found = new List<PrefixBlock>();
        Assert.Equal(2, cache.Match(new[] { 1, 2, 3, 4, 5, 6, 7, 8, 0, 10, 11, 12, 13 }, 10, found));
        Assert.Equal(chain.Take(2), found);
        found.Clear();
        Assert.Equal(1, cache.Match(a, 1, found));        // the caller's limit holds
        found.Clear();
        Assert.Equal(0, cache.Match(new[] { 0, 2, 3, 4, 5, 6, 7, 8 }, 10, found));
        found.Clear();
        Assert.Equal(1, cache.Match(new[] { 1, 2, 3, 4, 5, 6, 7 }, 10, found));   // a partial block never matches
    }

    [Fact]
    public void BlocksOfOneRotaryTableNeverMatchTheOther()
    {
        var (pool, cache) = Make();
        int[] tokens = { 1, 2, 3, 4, 5, 6, 7, 8 };
        var plain = cache.Register(null, pool.Allocate(), tokens.AsSpan(0, 4), QwenSharp.Model.RopeMode.Plain);
        cache.Register(plain, pool.Allocate(), tokens.AsSpan(4, 4), QwenSharp.Model.RopeMode.Plain);
        var found = new List<PrefixBlock>();
        Assert.Equal(0, cache.Match(tokens, 2, found, QwenSharp.Model.RopeMode.Yarn));
        Assert.Equal(2, cache.Match(tokens, 2, found, QwenSharp.Model.RopeMode.Plain));

        // The same tokens under YaRN are another entry, in another block, and each table finds its own.
        var yarn = cache.Register(null, pool.Allocate(), tokens.AsSpan(0, 4), QwenSharp.Model.RopeMode.Yarn);
        Assert.NotEqual(plain.Block, yarn.Block);
        Assert.NotEqual(plain.Key, yarn.Key);
        found.Clear();
        Assert.Equal(1, cache.Match(tokens, 2, found, QwenSharp.Model.RopeMode.Yarn));
        Assert.Equal(yarn, found[0]);
    }

    [Fact]
    public void EqualBlocksAfterDifferentPrefixesAreDifferentEntries()
    {
        var (pool, cache) = Make();
        var x = RegisterChain(pool, cache, new[] { 1, 1, 1, 1, 9, 9, 9, 9 });
        var y = RegisterChain(pool, cache, new[] { 2, 2, 2, 2, 9, 9, 9, 9 });
        Assert.NotEqual(x[1].Key, y[1].Key);
        Assert.NotEqual(x[1].Block, y[1].Block);
        var found = new List<PrefixBlock>();
        Assert.Equal(2, cache.Match(new[] { 2, 2, 2, 2, 9, 9, 9, 9 }, 2, found));
        Assert.Equal(y, found);
    }

    [Fact]
    public void ASecondBlockOfEqualContentChainsThroughTheFirst()
    {
        var (pool, cache) = Make();
        var first = RegisterChain(pool, cache, new[] { 1, 2, 3, 4 });
        int dup = pool.Allocate();
        var link = cache.Register(null, dup, new[] { 1, 2, 3, 4 });
        Assert.Equal(first[0], link);              // the cached block, so children stay findable
        Assert.False(pool.IsCached(dup));
        int child = pool.Allocate();
        cache.Register(link, child, new[] { 5, 6, 7, 8 });
        var found = new List<PrefixBlock>();
        Assert.Equal(2, cache.Match(new[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 2, found));
        Assert.Equal(child, found[1].Block);
    }

    [Fact]
    public void FreedCachedBlocksAreEvictedChildBeforeParent()
    {
        var (pool, cache) = Make(blocks: 2);
        var chain = RegisterChain(pool, cache, new[] { 1, 2, 3, 4, 5, 6, 7, 8 });
        pool.Free(chain[1].Block);
        pool.Free(chain[0].Block);                 // queue: child (freed first), then parent
        int reused = pool.Allocate();
        Assert.Equal(chain[1].Block, reused);
        Assert.Equal(1, cache.CachedBlocks);
        var found = new List<PrefixBlock>();
        Assert.Equal(1, cache.Match(new[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 2, found));
        pool.Free(reused);                         // plain now: head of the queue
        Assert.Equal(reused, pool.Allocate());
        Assert.Equal(chain[0].Block, pool.Allocate());
        Assert.Equal(0, cache.CachedBlocks);
    }

    [Fact]
    public void AChildOfAnEvictedParentNeverMatchesANewLifetimeOfThatBlock()
    {
        var (pool, cache) = Make(blocks: 3);
        var chain = RegisterChain(pool, cache, new[] { 1, 2, 3, 4, 5, 6, 7, 8 });
        int parent = chain[0].Block;
        pool.Free(parent);                         // cached: behind the never-used block
        Assert.NotEqual(parent, pool.Allocate());
        Assert.Equal(parent, pool.Allocate());     // evicted, new generation
        cache.Register(null, parent, new[] { 1, 2, 3, 4 });   // same content again, same key
        var found = new List<PrefixBlock>();
        // The child is still cached, but it chained from the parent's old lifetime: only the parent matches.
        Assert.True(pool.IsCached(chain[1].Block));
        Assert.Equal(1, cache.Match(new[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 2, found));
    }

    [Fact]
    public void HashChangesWithAnyTokenOrParent()
    {
        ulong root = PrefixCache.RootParentKey;
        int[] t = { 10, 20, 30, 40 };
        ulong h = PrefixCache.Hash(root, t);
        Assert.Equal(h, PrefixCache.Hash(root, (int[])t.Clone()));
        Assert.NotEqual(h, PrefixCache.Hash(root + 1, t));
        for (int i = 0; i < t.Length; i++)
        {
            var u = (int[])t.Clone();
            u[i] ^= 1;
            Assert.NotEqual(h, PrefixCache.Hash(root, u));
        }
        Assert.NotEqual(PrefixCache.Hash(root, new[] { 1, 2 }), PrefixCache.Hash(root, new[] { 2, 1 }));
    }
}
