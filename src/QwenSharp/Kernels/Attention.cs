using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

/// <summary>
/// Causal scaled-dot-product attention over a paged KV cache, with grouped-query attention: query head h reads
/// KV head h / (heads / kvHeads). Each KV head's keys and values are walked once for its whole group of query
/// heads. softmax(q·kᵀ / √d) · v, the max subtracted before exp as every reference does.
/// <see cref="CausalBatch"/> runs every (tile of tokens, KV head) pair of a forward batch over the worker pool: a
/// 512-token prefill has 512·513/2 query-key pairs per head. Consecutive tokens of one sequence go together through
/// <see cref="AttentionTile"/> (their query rows in the lanes of registers, the keys consumed block by block with an
/// online softmax); a lone token (decode) goes through <see cref="AttentionGroup"/> for head sizes 64 and 128, else the
/// per-key path below, which is also the twin of both and the path of tiers without them (its softmax is online too).
/// The cache may hold f16, bf16 or q8_0 rows (<see cref="KvCacheType"/>): every path widens a block of rows as it
/// reaches it into a scratch that stays in L1 (<see cref="KvHeadRows"/>), so memory is read at the cache's width and
/// no scratch grows with the length except the decode kernel's row of scores per query head ([group, length]).
/// Arithmetic is f32 throughout.
/// </summary>
public static unsafe class Attention
{
    /// <summary>One query token over an f32 cache.</summary>
    /// <param name="query">[heads, headDim] of the query token (already rotated)</param>
    /// <param name="keys">a layer's keys, [blocks, blockSize, kvHeads, headDim]</param>
    /// <param name="values">a layer's values, same layout</param>
    /// <param name="blockTable">the sequence's blocks, in position order</param>
    /// <param name="length">number of positions attended (the query's position + 1)</param>
    /// <param name="scores">scratch of at least [heads / kvHeads, length]</param>
    /// <param name="output">[heads, headDim]</param>
    public static void Causal(ReadOnlySpan<float> query, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        ReadOnlySpan<int> blockTable, int blockSize, int heads, int kvHeads, int headDim, int length,
        Span<float> scores, Span<float> output) =>
        Causal(query, MemoryMarshal.AsBytes(keys), MemoryMarshal.AsBytes(values), KvCacheType.F32, blockTable, blockSize,
            heads, kvHeads, headDim, length, scores, output);

    /// <summary>One query token over a cache of <paramref name="type"/> (rows of kvHeads·headDim values in that type).</summary>
    public static void Causal(ReadOnlySpan<float> query, ReadOnlySpan<byte> keys, ReadOnlySpan<byte> values, KvCacheType type,
        ReadOnlySpan<int> blockTable, int blockSize, int heads, int kvHeads, int headDim, int length,
        Span<float> scores, Span<float> output)
    {
        int group = heads / kvHeads;
        if (scores.Length < group * length)
            throw new ArgumentException($"Attention scratch holds {scores.Length} scores; {group * length} are needed.");
        fixed (float* q = query, s = scores, o = output)
        fixed (byte* k = keys, v = values)
        fixed (int* table = blockTable)
        {
            int position = length - 1;
            var job = new Job
            {
                Queries = q, Keys = k, Values = v, Output = o, Tables = table, Offsets = null, Positions = &position,
                BlockSize = blockSize, Heads = heads, KvHeads = kvHeads, HeadDim = headDim, Tokens = 1,
                Scale = 1f / MathF.Sqrt(headDim), Type = type, RowBytes = type.Bytes((long)kvHeads * headDim),
            };
            for (int kvh = 0; kvh < kvHeads; kvh++) Lone(&job, 0, kvh, s);
        }
    }

    /// <summary>Every token of a batch over an f32 cache (see the overload with a cache type).</summary>
    public static void CausalBatch(ReadOnlySpan<float> queries, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        ReadOnlySpan<int> tables, ReadOnlySpan<int> offsets, ReadOnlySpan<int> positions, int tokens,
        int blockSize, int heads, int kvHeads, int headDim, Span<float> output, WorkerPool pool) =>
        CausalBatch(queries, MemoryMarshal.AsBytes(keys), MemoryMarshal.AsBytes(values), KvCacheType.F32, tables, offsets,
            positions, tokens, blockSize, heads, kvHeads, headDim, output, pool);

    /// <summary>Every token of a batch: token t, at position positions[t], attends positions 0..positions[t] of the
    /// sequence whose block table starts at tables[offsets[t]].</summary>
    /// <param name="queries">[tokens, heads, headDim], already rotated</param>
    /// <param name="keys">a layer's keys, [blocks, blockSize] rows of kvHeads·headDim values in <paramref name="type"/></param>
    /// <param name="values">a layer's values, same layout</param>
    /// <param name="tables">the batch's block tables, one after another</param>
    /// <param name="offsets">[tokens]: where each token's block table starts in <paramref name="tables"/></param>
    /// <param name="positions">[tokens]: each token's position in its sequence</param>
    /// <param name="output">[tokens, heads, headDim]</param>
    public static void CausalBatch(ReadOnlySpan<float> queries, ReadOnlySpan<byte> keys, ReadOnlySpan<byte> values, KvCacheType type,
        ReadOnlySpan<int> tables, ReadOnlySpan<int> offsets, ReadOnlySpan<int> positions, int tokens,
        int blockSize, int heads, int kvHeads, int headDim, Span<float> output, WorkerPool pool) =>
        Batch(queries, keys, values, type, tables, offsets, positions, tokens, blockSize, heads, kvHeads, headDim, output, pool, plain: false);

    /// <summary><see cref="CausalBatch(ReadOnlySpan{float}, ReadOnlySpan{byte}, ReadOnlySpan{byte}, KvCacheType, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, int, int, int, int, int, Span{float}, WorkerPool)"/>
    /// with every token through the per-key path: the plain twin of the tiles and the group kernel.</summary>
    internal static void CausalBatchPlain(ReadOnlySpan<float> queries, ReadOnlySpan<byte> keys, ReadOnlySpan<byte> values, KvCacheType type,
        ReadOnlySpan<int> tables, ReadOnlySpan<int> offsets, ReadOnlySpan<int> positions, int tokens,
        int blockSize, int heads, int kvHeads, int headDim, Span<float> output, WorkerPool pool) =>
        Batch(queries, keys, values, type, tables, offsets, positions, tokens, blockSize, heads, kvHeads, headDim, output, pool, plain: true);

    private static void Batch(ReadOnlySpan<float> queries, ReadOnlySpan<byte> keys, ReadOnlySpan<byte> values, KvCacheType type,
        ReadOnlySpan<int> tables, ReadOnlySpan<int> offsets, ReadOnlySpan<int> positions, int tokens,
        int blockSize, int heads, int kvHeads, int headDim, Span<float> output, WorkerPool pool, bool plain)
    {
        if (tokens == 0) return;
        if (offsets.Length < tokens || positions.Length < tokens || queries.Length < (long)tokens * heads * headDim || output.Length < (long)tokens * heads * headDim)
            throw new ArgumentException($"Attention over {tokens} tokens got {offsets.Length} table offsets, {positions.Length} positions, {queries.Length} query and {output.Length} output values.");
        if (type.Refusal(headDim) is { } refusal) throw new ArgumentException(refusal);
        fixed (float* q = queries, o = output)
        fixed (byte* k = keys, v = values)
        fixed (int* table = tables, offset = offsets, position = positions)
        {
            var job = new Job
            {
                Queries = q, Keys = k, Values = v, Output = o, Tables = table, Offsets = offset, Positions = position,
                BlockSize = blockSize, Heads = heads, KvHeads = kvHeads, HeadDim = headDim, Tokens = tokens,
                Scale = 1f / MathF.Sqrt(headDim), Type = type, RowBytes = type.Bytes((long)kvHeads * headDim), Plain = plain,
            };
            job.Tiles = Tiles(&job, out job.TileStarts);
            int items = job.Tiles * kvHeads;
            pool.Run(&Share, &job, Math.Min(items, 8 * pool.ThreadCount));
        }
    }

    private struct Job
    {
        public float* Queries, Output;
        public byte* Keys, Values;
        public int* Tables, Offsets, Positions;
        public int BlockSize, Heads, KvHeads, HeadDim, Tokens;
        public float Scale;
        public KvCacheType Type;
        /// <summary>Bytes of one slot's row (every KV head) in the cache.</summary>
        public long RowBytes;
        /// <summary>[Tiles + 1]: the first token of each tile; a tile of several tokens goes through <see cref="AttentionTile"/>.</summary>
        public int* TileStarts;
        public int Tiles;
        /// <summary>Every token through the per-key path (the plain twin, for tests).</summary>
        public bool Plain;
    }

    [ThreadStatic] private static float* _scores;
    [ThreadStatic] private static long _scoresLength;
    [ThreadStatic] private static int* _tileStarts;
    [ThreadStatic] private static int _tileStartsLength;
    // A block of a narrow cache's rows as f32, for the per-key path (the tiles and the group kernel carve theirs from _scores).
    [ThreadStatic] private static float* _blockRows;
    [ThreadStatic] private static long _blockRowsLength;

    /// <summary>Cuts the batch into tiles: runs of consecutive tokens of one sequence (same block table, consecutive
    /// positions) whose query rows fill at most <see cref="AttentionTile.MaxRows"/> lanes; single tokens elsewhere, and
    /// everywhere for the plain twin.</summary>
    private static int Tiles(Job* job, out int* starts)
    {
        if (_tileStartsLength < job->Tokens + 1)
        {
            if (_tileStarts != null) NativeMemory.Free(_tileStarts);
            _tileStartsLength = Math.Max(job->Tokens + 1, 2 * _tileStartsLength);
            _tileStarts = (int*)NativeMemory.Alloc((nuint)_tileStartsLength, sizeof(int));
        }
        starts = _tileStarts;
        int group = job->Heads / job->KvHeads;
        int most = !job->Plain && AttentionTile.Supported(group, job->HeadDim) ? AttentionTile.MaxRows / group : 1;
        int count = 0;
        for (int t = 0; t < job->Tokens;)
        {
            starts[count++] = t;
            int n = 1;
            while (n < most && t + n < job->Tokens && job->Offsets[t + n] == job->Offsets[t] && job->Positions[t + n] == job->Positions[t] + n) n++;
            t += n;
        }
        starts[count] = job->Tokens;
        return count;
    }

    private static void Share(void* context, int part, int parts)
    {
        var job = (Job*)context;
        int group = job->Heads / job->KvHeads, items = job->Tiles * job->KvHeads;
        long rowFloats = (long)job->Heads * job->HeadDim;
        // Items interleaved over the parts: later tokens attend more positions, so contiguous ranges would not balance.
        for (int item = part; item < items; item += parts)
        {
            int tile = item / job->KvHeads, kvh = item % job->KvHeads;
            int t = job->TileStarts[tile], n = job->TileStarts[tile + 1] - t, length = job->Positions[t] + n;
            long need = n == 1 ? (long)group * length : AttentionTile.ScratchFloats(job->HeadDim);
            if (_scoresLength < need)
            {
                if (_scores != null) NativeMemory.AlignedFree(_scores);
                _scoresLength = Math.Max(need, 2 * _scoresLength);
                _scores = (float*)NativeMemory.AlignedAlloc((nuint)(_scoresLength * sizeof(float)), 64);
            }
            if (n == 1) Lone(job, t, kvh, _scores);
            else
                AttentionTile.Run(job->Queries + t * rowFloats, job->Output + t * rowFloats, n, job->Positions[t], kvh,
                    job->Heads, job->KvHeads, job->HeadDim, HeadRows(job, job->Keys, kvh), HeadRows(job, job->Values, kvh),
                    job->Tables + job->Offsets[t], job->BlockSize, job->Scale, _scores);
        }
    }

    private static KvHeadRows HeadRows(Job* job, byte* layer, int kvh) => new(layer, job->RowBytes, job->Type, kvh, job->HeadDim);

    /// <summary>A lone token's group of query heads against KV head <paramref name="kvh"/>: <see cref="AttentionGroup"/>
    /// for the head sizes it covers, else the per-key path (its plain twin).</summary>
    private static void Lone(Job* job, int t, int kvh, float* scores)
    {
        int d = job->HeadDim;
        int* table = job->Tables + (job->Offsets == null ? 0 : job->Offsets[t]);
        if (job->Plain || !AttentionGroup.Supported(d))
        {
            Head(job, t, kvh, table, scores);
            return;
        }
        int group = job->Heads / job->KvHeads;
        long offset = ((long)t * job->Heads + kvh * group) * d;
        AttentionGroup.Run(job->Queries + offset, job->Output + offset, group, d, HeadRows(job, job->Keys, kvh), HeadRows(job, job->Values, kvh),
            table, job->BlockSize, job->Positions[t] + 1, job->Scale, scores, BlockRows((long)job->BlockSize * d));
    }

    /// <summary>This thread's scratch for one block of widened rows, at least <paramref name="floats"/> long.</summary>
    private static float* BlockRows(long floats)
    {
        if (_blockRowsLength < floats)
        {
            if (_blockRows != null) NativeMemory.AlignedFree(_blockRows);
            _blockRowsLength = Math.Max(floats, 2 * _blockRowsLength);
            _blockRows = (float*)NativeMemory.AlignedAlloc((nuint)(_blockRowsLength * sizeof(float)), 64);
        }
        return _blockRows;
    }

    /// <summary>The group of query heads of token <paramref name="t"/> that share KV head <paramref name="kvh"/>, key by key
    /// (the plain twin, and the path of every tier without tiles): block by block of the paged cache, each block widened
    /// once into L1 for the group, with the online softmax of <see cref="AttentionTile"/> (running max and sum per head,
    /// the output so far scaled by exp(m_old − m_new)). Scratch: <paramref name="scores"/> of [group, min(length, blockSize)].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Head(Job* job, int t, int kvh, int* table, float* scores)
    {
        int d = job->HeadDim, group = job->Heads / job->KvHeads, length = job->Positions[t] + 1, bs = job->BlockSize;
        int columns = Math.Min(bs, length);
        float* q = job->Queries + ((long)t * job->Heads + kvh * group) * d;
        float* o = job->Output + ((long)t * job->Heads + kvh * group) * d;
        float scale = job->Scale;
        var keys = HeadRows(job, job->Keys, kvh);
        var values = HeadRows(job, job->Values, kvh);
        float* rows = BlockRows((long)bs * d);
        float* max = stackalloc float[group];
        float* sum = stackalloc float[group];
        for (int g = 0; g < group; g++) (max[g], sum[g]) = (float.NegativeInfinity, 0);
        new Span<float>(o, group * d).Clear();

        for (int j0 = 0; j0 < length; j0 += bs)
        {
            int n = Math.Min(bs, length - j0);
            long slot = (long)table[j0 / bs] * bs;
            float* k = keys.Rows(slot, n, rows, out long stride);
            for (int g = 0; g < group; g++)
            {
                float* s = scores + g * columns;
                float blockMax = float.NegativeInfinity;
                for (int p = 0; p < n; p++) blockMax = MathF.Max(blockMax, s[p] = Dot(q + g * d, k + p * stride, d) * scale);
                float newMax = MathF.Max(max[g], blockMax), blockSum = 0;
                for (int p = 0; p < n; p++) blockSum += s[p] = MathF.Exp(s[p] - newMax);
                float correction = MathF.Exp(max[g] - newMax);
                (max[g], sum[g]) = (newMax, sum[g] * correction + blockSum);
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(o + g * d, d), correction, new Span<float>(o + g * d, d));
            }
            float* v = values.Rows(slot, n, rows, out stride);
            for (int p = 0; p < n; p++)
                for (int g = 0; g < group; g++)
                    MultiplyAdd(v + p * stride, scores[g * columns + p], o + g * d, d);
        }
        for (int g = 0; g < group; g++)
            TensorPrimitives.Divide(new ReadOnlySpan<float>(o + g * d, d), sum[g], new Span<float>(o + g * d, d));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(float* a, float* b, int n)
    {
        int i = 0;
        float sum = 0;
        if (KernelTiers.Wide && n >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; i + 16 <= n; i += 16)
                acc = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), acc);
            sum = Vector512.Sum(acc);
        }
        else if (KernelTiers.X86 && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8)
                acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum = MathF.FusedMultiplyAdd(a[i], b[i], sum);
        return sum;
    }

    /// <summary>o += p·v over n values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MultiplyAdd(float* v, float p, float* o, int n)
    {
        int i = 0;
        if (KernelTiers.Wide)
        {
            var pp = Vector512.Create(p);
            for (; i + 16 <= n; i += 16)
                Vector512.FusedMultiplyAdd(Vector512.Load(v + i), pp, Vector512.Load(o + i)).Store(o + i);
        }
        else if (KernelTiers.X86)
        {
            var pp = Vector256.Create(p);
            for (; i + 8 <= n; i += 8)
                Vector256.FusedMultiplyAdd(Vector256.Load(v + i), pp, Vector256.Load(o + i)).Store(o + i);
        }
        for (; i < n; i++) o[i] = MathF.FusedMultiplyAdd(v[i], p, o[i]);
    }

    /// <summary>One row of scores to probabilities (max subtracted; divided by the sum), shared with <see cref="AttentionGroup"/>.</summary>
    internal static void Softmax(Span<float> x)
    {
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, x);
        TensorPrimitives.Exp(x, x);
        TensorPrimitives.Divide(x, TensorPrimitives.Sum(x), x);
    }
}
