namespace QwenSharp.Engine;

/// <summary>
/// A fixed pool of KV-cache blocks, known only by id: the model owns the memory (per layer K and V arrays of
/// [numBlocks, blockSize, kvHeads, headDim]) and this class says which ids are in use, by how many sequences.
/// </summary>
/// <remarks>
/// Free blocks wait in one queue, as in vLLM v1's block pool: <see cref="Allocate"/> takes the head, so the
/// head is the least valuable block. A freed block that holds cached prefix content goes to the tail (least
/// recently used first out); a freed block without cached content goes to the head, since nothing is lost by
/// reusing it. A cached block with no owner stays in the queue, and <see cref="Fork"/> can take it back out
/// until <see cref="Allocate"/> reaches it, which evicts it (<see cref="Evicted"/>).
/// Not thread-safe: the engine loop owns it.
/// </remarks>
public sealed class KvBlockAllocator
{
    private readonly int[] _refCount;     // [numBlocks] owners of each block; 0 = in the free queue
    private readonly bool[] _cached;      // [numBlocks] holds content registered in a prefix cache
    private readonly int[] _generation;   // [numBlocks] bumped on every Allocate: identifies one lifetime of a block
    private readonly int[] _next;         // [numBlocks + 1] free-queue links; index numBlocks is the sentinel
    private readonly int[] _prev;         // [numBlocks + 1]
    private readonly int _sentinel;

    public KvBlockAllocator(int numBlocks, int blockSize)
    {
        if (numBlocks < 1)
            throw new ArgumentOutOfRangeException(nameof(numBlocks), numBlocks, $"The KV cache needs at least one block; got {numBlocks}.");
        if (blockSize < 1)
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, $"A KV block holds at least one token; got {blockSize}.");
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        _refCount = new int[numBlocks];
        _cached = new bool[numBlocks];
        _generation = new int[numBlocks];
        _next = new int[numBlocks + 1];
        _prev = new int[numBlocks + 1];
        _sentinel = numBlocks;
        _next[_sentinel] = _prev[_sentinel] = _sentinel;
        for (int b = 0; b < numBlocks; b++) InsertBefore(_sentinel, b);
        NumFree = numBlocks;
    }

    public int NumBlocks { get; }

    /// <summary>Tokens per block.</summary>
    public int BlockSize { get; }

    /// <summary>Blocks no sequence owns, cached ones included (they are reused when needed).</summary>
    public int NumFree { get; private set; }

    /// <summary>Fraction of blocks owned by some sequence, the KV usage vLLM reports.</summary>
    public double Usage => 1.0 - (double)NumFree / NumBlocks;

    /// <summary>Called with a block id when <see cref="Allocate"/> reuses a block that held cached content.</summary>
    public Action<int>? Evicted { get; set; }

    public int RefCount(int block) => _refCount[Check(block)];

    public bool IsCached(int block) => _cached[Check(block)];

    /// <summary>Changes each time the block is allocated anew, so a stored (block, generation) pair names one content.</summary>
    public int Generation(int block) => _generation[Check(block)];

    /// <summary>Takes the head of the free queue with one owner; evicts its cached content if any.</summary>
    public int Allocate()
    {
        if (NumFree == 0)
            throw new InvalidOperationException($"All {NumBlocks} KV blocks are in use; the scheduler must check NumFree before allocating.");
        int block = _next[_sentinel];
        Unlink(block);
        NumFree--;
        _refCount[block] = 1;
        _generation[block]++;
        if (_cached[block])
        {
            _cached[block] = false;
            Evicted?.Invoke(block);
        }
        return block;
    }

    /// <summary>
    /// Adds an owner to a block (a sequence sharing a cached prefix, or a copy of a sequence). A cached block
    /// that had no owner leaves the free queue; a free block without cached content cannot be shared.
    /// </summary>
    public void Fork(int block)
    {
        Check(block);
        if (_refCount[block] == 0)
        {
            if (!_cached[block])
                throw new InvalidOperationException($"KV block {block} is free and holds no cached content, so it cannot be shared.");
            Unlink(block);
            NumFree--;
        }
        _refCount[block]++;
    }

    /// <summary>Removes one owner; the last owner's free puts the block back in the queue.</summary>
    public void Free(int block)
    {
        Check(block);
        if (_refCount[block] == 0)
            throw new InvalidOperationException($"KV block {block} is freed more times than it was allocated or forked.");
        if (--_refCount[block] > 0) return;
        if (_cached[block]) InsertBefore(_sentinel, block);   // tail: evicted last
        else InsertBefore(_next[_sentinel], block);          // head: reused first
        NumFree++;
    }

    /// <summary>Marks an owned block as holding content a prefix cache can hand out after its owners free it.</summary>
    public void MarkCached(int block)
    {
        Check(block);
        if (_refCount[block] == 0)
            throw new InvalidOperationException($"KV block {block} is free; only a block a sequence owns can be cached.");
        _cached[block] = true;
    }

    /// <summary>Free blocks in the order <see cref="Allocate"/> would take them (for tests and diagnostics).</summary>
    public IEnumerable<int> FreeQueue()
    {
        for (int b = _next[_sentinel]; b != _sentinel; b = _next[b]) yield return b;
    }

    private int Check(int block)
    {
        if ((uint)block >= (uint)NumBlocks)
            throw new ArgumentOutOfRangeException(nameof(block), block, $"KV block ids run from 0 to {NumBlocks - 1}.");
        return block;
    }

    private void InsertBefore(int at, int block)
    {
        int before = _prev[at];
        _next[before] = block;
        _prev[block] = before;
        _next[block] = at;
        _prev[at] = block;
    }

    private void Unlink(int block)
    {
        _next[_prev[block]] = _next[block];
        _prev[_next[block]] = _prev[block];
        _next[block] = _prev[block] = -1;
    }
}
