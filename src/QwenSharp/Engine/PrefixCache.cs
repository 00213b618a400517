using QwenSharp.Model;

namespace QwenSharp.Engine;

/// <summary>
/// One full block of a sequence's prefix as the cache knows it: the chained key, the block that holds the
/// content and that block's <see cref="KvBlockAllocator.Generation"/> (which lifetime of the block).
/// </summary>
public readonly record struct PrefixBlock(ulong Key, int Block, int Generation);

/// <summary>
/// Automatic prefix caching as vLLM does it: every full block of a sequence's tokens is keyed by a hash chained
/// from its parent block's key and its own token ids, so equal prefixes map to equal key chains and a later
/// sequence with the same system prompt shares the blocks instead of recomputing them. Keys also depend on the
/// rotary table the blocks were computed under (<see cref="RopeMode"/>, as vLLM mixes a LoRA id or cache salt into its
/// block hashes): the same tokens under plain RoPE and under YaRN hold different keys, and never match each other.
/// </summary>
/// <remarks>
/// The hash only finds candidates. A match is exact: the candidate must hold the same token ids, and its
/// parent must be the very block (id and generation) matched one step before, so by induction the whole
/// prefix is equal. Two contents whose keys collide cost one cache entry, never a wrong answer.
/// Cached blocks whose owners have all gone stay in the allocator's free queue until it reuses them (LRU),
/// which removes them here through <see cref="KvBlockAllocator.Evicted"/>.
/// </remarks>
public sealed class PrefixCache
{
    private const ulong RootKey = 0x51_77_65_6E_53_68_61_72UL; // "QwenShar": the parent key of every first block (YaRN or no scaling)
    private const ulong PlainRootKey = 0x50_6C_61_69_6E_52_6F_50UL; // "PlainRoP": the same under plain RoPE on a YaRN model

    private readonly KvBlockAllocator _allocator;
    private readonly int _blockSize;
    private readonly Dictionary<ulong, int> _byKey;           // at most one entry per block
    private readonly ulong[] _key;            // [numBlocks] key of the cached block
    private readonly int[] _parentBlock;      // [numBlocks] block matched before it, -1 for a first block
    private readonly int[] _parentGeneration; // [numBlocks] that parent's generation when this block was cached
    private readonly int[] _tokens;           // [numBlocks * blockSize] token ids the cached block holds
    private readonly RopeMode[] _rope;        // [numBlocks] the rotary table its keys were computed under

    public PrefixCache(KvBlockAllocator allocator)
    {
        _allocator = allocator;
        _blockSize = allocator.BlockSize;
        _byKey = new Dictionary<ulong, int>(allocator.NumBlocks);
        _key = new ulong[allocator.NumBlocks];
        _parentBlock = new int[allocator.NumBlocks];
        _parentGeneration = new int[allocator.NumBlocks];
        _tokens = new int[allocator.NumBlocks * allocator.BlockSize];
        _rope = new RopeMode[allocator.NumBlocks];
        allocator.Evicted = OnEvicted;
    }

    /// <summary>Blocks currently findable (owned or waiting in the free queue).</summary>
    public int CachedBlocks => _byKey.Count;

    /// <summary>Prompt tokens looked up, over all admissions (vLLM's prefix_cache_queries).</summary>
    public long QueriedTokens { get; private set; }

    /// <summary>Of those, tokens served from the cache instead of computed (vLLM's prefix_cache_hits).</summary>
    public long HitTokens { get; private set; }

    /// <summary>
    /// Appends to <paramref name="chain"/> the longest run of cached blocks equal to the first full blocks of
    /// <paramref name="tokens"/>, at most <paramref name="maxBlocks"/>; returns how many it found. The blocks
    /// are not forked here: the caller forks them once it decides to use them. Only blocks computed under
    /// <paramref name="rope"/> match.
    /// </summary>
    public int Match(ReadOnlySpan<int> tokens, int maxBlocks, List<PrefixBlock> chain, RopeMode rope = RopeMode.Yarn)
    {
        int limit = Math.Min(maxBlocks, tokens.Length / _blockSize);
        ulong parentKey = RootFor(rope);
        int parentBlock = -1, parentGeneration = 0;
        int found = 0;
        for (; found < limit; found++)
        {
            var content = tokens.Slice(found * _blockSize, _blockSize);
            ulong key = Hash(parentKey, content);
            if (!_byKey.TryGetValue(key, out int block) || !Holds(block, parentBlock, parentGeneration, content, rope))
                break;
            var link = new PrefixBlock(key, block, _allocator.Generation(block));
            chain.Add(link);
            (parentKey, parentBlock, parentGeneration) = (key, block, link.Generation);
        }
        return found;
    }

    /// <summary>Counts one admission's lookup for the hit-rate metrics.</summary>
    public void Record(int queriedTokens, int hitTokens)
    {
        QueriedTokens += queriedTokens;
        HitTokens += hitTokens;
    }

    /// <summary>
    /// Offers a block a sequence owns and has just filled and computed. Returns the link its next block chains
    /// from: the block itself when it is now cached, or the cached block of equal content that was there first
    /// (then this block stays uncached and is simply freed with its sequence, as vLLM does).
    /// </summary>
    /// <param name="parent">The link returned for the block before it, or null for the first block.</param>
    /// <param name="rope">The rotary table the block's keys were computed under.</param>
    public PrefixBlock Register(PrefixBlock? parent, int block, ReadOnlySpan<int> tokens, RopeMode rope = RopeMode.Yarn)
    {
        if (tokens.Length != _blockSize)
            throw new ArgumentException($"Only full blocks are cached: got {tokens.Length} tokens, a block holds {_blockSize}.", nameof(tokens));
        ulong parentKey = parent?.Key ?? RootFor(rope);
        int parentBlock = parent?.Block ?? -1, parentGeneration = parent?.Generation ?? 0;
        ulong key = Hash(parentKey, tokens);
        if (_byKey.TryGetValue(key, out int existing))
        {
            if (Holds(existing, parentBlock, parentGeneration, tokens, rope))
                return new PrefixBlock(key, existing, _allocator.Generation(existing));
            // A different content under the same key: leave the entry, keep chaining through our own block.
            return new PrefixBlock(key, block, _allocator.Generation(block));
        }
        _byKey.Add(key, block);
        _key[block] = key;
        _parentBlock[block] = parentBlock;
        _parentGeneration[block] = parentGeneration;
        _rope[block] = rope;
        tokens.CopyTo(_tokens.AsSpan(block * _blockSize, _blockSize));
        _allocator.MarkCached(block);
        return new PrefixBlock(key, block, _allocator.Generation(block));
    }

    /// <summary>The cached block for a key, if any (for tests and diagnostics).</summary>
    public bool TryGetBlock(ulong key, out int block) => _byKey.TryGetValue(key, out block);

    /// <summary>
    /// The chained key of one full block: each token is folded in with MurmurHash3's 64-bit finalizer
    /// (a bijection with full avalanche), so any change in a token or in the parent changes the key.
    /// </summary>
    public static ulong Hash(ulong parentKey, ReadOnlySpan<int> tokens)
    {
        ulong h = parentKey ^ 0x9E3779B97F4A7C15UL;
        foreach (int t in tokens)
            h = Fmix64(h ^ (uint)t) + 0x9E3779B97F4A7C15UL;
        return Fmix64(h ^ (ulong)tokens.Length);
    }

    public static ulong RootParentKey => RootKey;

    /// <summary>The parent key of a first block computed under <paramref name="rope"/>.</summary>
    public static ulong RootFor(RopeMode rope) => rope == RopeMode.Plain ? PlainRootKey : RootKey;

    private static ulong Fmix64(ulong k)
    {
        k ^= k >> 33;
        k *= 0xFF51AFD7ED558CCDUL;
        k ^= k >> 33;
        k *= 0xC4CEB2FE1A85EC53UL;
        k ^= k >> 33;
        return k;
    }

    private bool Holds(int block, int parentBlock, int parentGeneration, ReadOnlySpan<int> tokens, RopeMode rope) =>
        _parentBlock[block] == parentBlock
        && _rope[block] == rope
        && _parentGeneration[block] == parentGeneration
        && tokens.SequenceEqual(_tokens.AsSpan(block * _blockSize, _blockSize));

    private void OnEvicted(int block)
    {
        if (_byKey.TryGetValue(_key[block], out int cached) && cached == block)
            _byKey.Remove(_key[block]);
    }
}
