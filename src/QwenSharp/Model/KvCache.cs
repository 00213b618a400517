using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Model;

/// <summary>
/// The paged key/value cache: a pool of blocks of <see cref="BlockSize"/> token slots, shared by all sequences.
/// A sequence owns a block table (block ids in order); position p lives in block table[p / BlockSize] at slot
/// p % BlockSize. Which block belongs to whom is the engine's business (its allocator knows only ids); this
/// class owns the memory. Keys and values are stored as <see cref="Type"/> (<see cref="KvCacheType"/>): a slot's row
/// is kvHeads·headDim values in that type, <see cref="RowBytes"/> long; attention widens them to f32 as it reads.
/// </summary>
public sealed class KvCache
{
    // keys[layer], values[layer]: [numBlocks, blockSize] rows of RowBytes each.
    private readonly byte[][] _keys;
    private readonly byte[][] _values;

    public KvCache(int layers, int kvHeads, int headDim, int numBlocks, int blockSize, KvCacheType type = KvCacheType.F32)
    {
        if (type.Refusal(headDim) is { } refusal) throw new ArgumentException(refusal);
        long rowBytes = type.Bytes((long)kvHeads * headDim);
        long perLayer = (long)numBlocks * blockSize * rowBytes;
        if (perLayer > Array.MaxLength)
            throw new ArgumentException($"A KV cache of {numBlocks} blocks of {blockSize} tokens needs {perLayer} bytes per layer, more than one array holds ({Array.MaxLength}); use fewer blocks.");
        Layers = layers;
        KvHeads = kvHeads;
        HeadDim = headDim;
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        Type = type;
        RowBytes = (int)rowBytes;
        _keys = new byte[layers][];
        _values = new byte[layers][];
        for (int l = 0; l < layers; l++)
        {
            _keys[l] = new byte[perLayer];
            _values[l] = new byte[perLayer];
        }
    }

    /// <summary>
    /// Writes every page of the cache once, so the operating system backs all of it now rather than block by block as
    /// sequences first reach them (the prefix cache's LRU order cycles through the whole pool). A server does this at
    /// start: its memory is then what it will stay, and a cache the machine cannot hold fails at start, not under load.
    /// </summary>
    public void Commit()
    {
        foreach (var arrays in new[] { _keys, _values })
            foreach (var a in arrays)
                for (long i = 0; i < a.LongLength; i += 4096) a[i] = 0;
    }

    /// <summary>A cache for the given model with room for <paramref name="tokens"/> tokens in blocks of 16.</summary>
    public static KvCache For(Qwen2Config config, int tokens, int blockSize = 16, KvCacheType type = KvCacheType.F32) =>
        new(config.NumHiddenLayers, config.NumKeyValueHeads, config.HeadDim, (tokens + blockSize - 1) / blockSize, blockSize, type);

    /// <summary>Bytes one token takes in a cache of <paramref name="type"/> for this model: keys and values of every layer.</summary>
    public static long BytesPerToken(Qwen2Config config, KvCacheType type) =>
        2L * config.NumHiddenLayers * type.Bytes((long)config.NumKeyValueHeads * config.HeadDim);

    public int Layers { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }
    public int NumBlocks { get; }
    public int BlockSize { get; }
    public KvCacheType Type { get; }
    /// <summary>Bytes of one slot's keys (or values) of one layer.</summary>
    public int RowBytes { get; }
    public int Capacity => NumBlocks * BlockSize;
    public long Bytes => 2L * Layers * NumBlocks * BlockSize * RowBytes;

    /// <summary>[numBlocks, blockSize] rows of keys of one layer, in <see cref="Type"/>.</summary>
    public byte[] Keys(int layer) => _keys[layer];
    /// <summary>[numBlocks, blockSize] rows of values of one layer, in <see cref="Type"/>.</summary>
    public byte[] Values(int layer) => _values[layer];

    /// <summary>Byte offset of a position's slot row in a layer array.</summary>
    public long SlotOffset(ReadOnlySpan<int> blockTable, int position) =>
        ((long)blockTable[position / BlockSize] * BlockSize + position % BlockSize) * RowBytes;

    /// <summary>Converts one token's keys and values ([kvHeads * headDim] each) into its slot.</summary>
    public unsafe void Store(int layer, ReadOnlySpan<int> blockTable, int position, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        long offset = SlotOffset(blockTable, position);
        int width = KvHeads * HeadDim;
        if (k.Length < width || v.Length < width)
            throw new ArgumentException($"A KV row has {width} values; got {k.Length} keys and {v.Length} values.");
        fixed (float* ks = k, vs = v)
        fixed (byte* kd = _keys[layer], vd = _values[layer])
        {
            KvRows.Narrow(Type, ks, kd + offset, width);
            KvRows.Narrow(Type, vs, vd + offset, width);
        }
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
