using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

/// <summary>
/// One KV head's key or value rows in a layer of the paged cache, as attention reads them: f32 rows are read in place;
/// narrower ones (<see cref="KvCacheType"/>) are widened by <see cref="KvRows.Widen"/> a block at a time into a scratch
/// of [blockSize, headDim] floats that stays in L1, so memory is read at the cache type's width.
/// </summary>
internal unsafe struct KvHeadRows
{
    /// <summary>Slot 0's row of this KV head, in the cache's type.</summary>
    public byte* Start;
    /// <summary>Bytes from one slot's row to the next (a whole slot: every KV head).</summary>
    public long RowBytes;
    public KvCacheType Type;
    public int HeadDim;

    public KvHeadRows(byte* layer, long rowBytes, KvCacheType type, int kvh, int headDim)
    {
        Start = layer + type.Bytes((long)kvh * headDim);
        RowBytes = rowBytes;
        Type = type;
        HeadDim = headDim;
    }

    /// <summary>Asks for the n rows of slots first..first+n to be brought into the cache (x86 prefetcht0 per 64-byte line)
    /// while the block before them is computed. A KV head's row is a few lines at a stride of the whole slot, a pattern
    /// the hardware prefetchers follow late, so at depth decode otherwise waits on each block's rows in turn.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(long first, int n)
    {
        if (!Sse.IsSupported) return;
        byte* row = Start + first * RowBytes;
        long bytes = Type.Bytes(HeadDim);
        for (int r = 0; r < n; r++, row += RowBytes)
            for (long b = 0; b < bytes; b += 64) Sse.Prefetch0(row + b);
    }

    /// <summary>The n rows of slots first..first+n as f32 with their stride in floats: in place for F32, else widened into
    /// <paramref name="scratch"/> ([n, headDim]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* Rows(long first, int n, float* scratch, out long stride)
    {
        byte* row = Start + first * RowBytes;
        if (Type == KvCacheType.F32)
        {
            stride = RowBytes / sizeof(float);
            return (float*)row;
        }
        KvRows.WidenRows(Type, row, RowBytes, n, HeadDim, scratch);
        stride = HeadDim;
        return scratch;
    }
}
