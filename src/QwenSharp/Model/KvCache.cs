namespace QwenSharp.Model;

/// <summary>
/// The paged key/value cache: a pool of blocks of <see cref="BlockSize"/> token slots, shared by all sequences.
/// A sequence owns a block table (block ids in order); position p lives in block table[p / BlockSize] at slot
/// p % BlockSize. Which block belongs to whom is the engine's business (its allocator knows only ids); this
/// class owns the memory.
/// </summary>
public sealed class KvCache
{
    // keys[layer], values[layer]: [numBlocks, blockSize, kvHeads, headDim] each, fp32.
    private readonly float[][] _keys;
    private readonly float[][] _values;

    public KvCache(int layers, int kvHeads, int headDim, int numBlocks, int blockSize)
    {
        long perLayer = (long)numBlocks * blockSize * kvHeads * headDim;
        if (perLayer > Array.MaxLength)
            throw new ArgumentException($"A KV cache of {numBlocks} blocks of {blockSize} tokens needs {perLayer} values per layer, more than one array holds ({Array.MaxLength}); use fewer blocks.");
        Layers = layers;
        KvHeads = kvHeads;
        HeadDim = headDim;
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        _keys = new float[layers][];
        _values = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            _keys[l] = new float[perLayer];
            _values[l] = new float[perLayer];
        }
    }

    /// <summary>
    /// Writes every page of the cache once, so the operating system backs all of it now rather than block by block as
    /// sequences first reach them (the prefix cache's LRU order cycles through the whole pool). A server does this at
    /// start: its memory is then what it will stay, and a cache the machine cannot hold fails at start, not under load.
    /// </summary>
    public void Commit()
    {
        const int pageFloats = 4096 / sizeof(float);
        foreach (var arrays in new[] { _keys, _values })
            foreach (var a in arrays)
                for (long i = 0; i < a.LongLength; i += pageFloats) a[i] = 0;
    }

    /// <summary>A cache for the given model with room for <paramref name="tokens"/> tokens in blocks of 16.</summary>
    public static KvCache For(Qwen2Config config, int tokens, int blockSize = 16) =>
        new(config.NumHiddenLayers, config.NumKeyValueHeads, config.HeadDim, (tokens + blockSize - 1) / blockSize, blockSize);

    public int Layers { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }
    public int NumBlocks { get; }
    public int BlockSize { get; }
    public int Capacity => NumBlocks * BlockSize;
    public long Bytes => 2L * Layers * NumBlocks * BlockSize * KvHeads * HeadDim * sizeof(float);

    /// <summary>[numBlocks, blockSize, kvHeads, headDim] keys of one layer.</summary>
    public float[] Keys(int layer) => _keys[layer];
    /// <summary>[numBlocks, blockSize, kvHeads, headDim] values of one layer.</summary>
    public float[] Values(int layer) => _values[layer];

    /// <summary>Offset of (position's slot, head 0) in a layer array.</summary>
    public long SlotOffset(ReadOnlySpan<int> blockTable, int position) =>
        ((long)blockTable[position / BlockSize] * BlockSize + position % BlockSize) * KvHeads * HeadDim;

    /// <summary>Copies one token's keys and values ([kvHeads * headDim] each) into its slot.</summary>
    public void Store(int layer, ReadOnlySpan<int> blockTable, int position, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        long offset = SlotOffset(blockTable, position);
        int width = KvHeads * HeadDim;
        k[..width].CopyTo(_keys[layer].AsSpan((int)offset, width));
        v[..width].CopyTo(_values[layer].AsSpan((int)offset, width));
    }

    /// <summary>A block table 0, 1, 2, … covering <paramref name="tokens"/> positions, for single-sequence use.</summary>
    public int[] ContiguousBlockTable(int tokens)
    {
        int blocks = (tokens + BlockSize - 1) / BlockSize;
        if (blocks > NumBlocks)
            throw new ArgumentException($"{tokens} tokens need {blocks} KV blocks; the cache has {NumBlocks} ({Capacity} tokens).");
        var table = new int[blocks];
        for (int i = 0; i < blocks; i++) table[i] = i;
        return table;
    }
}
