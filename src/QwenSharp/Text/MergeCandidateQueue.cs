using System.Buffers;

namespace QwenSharp.Text;

/// <summary>
/// The candidate merges of one word, taken lowest rank first and, among equal ranks, lowest position first:
/// the order of HF tokenizers' merge heap. Candidates of one rank share a bucket (a list of positions); a
/// binary heap orders the buckets by rank. A word has few distinct ranks in play compared with its length
/// when it is a long run (all of its pairs are alike), so a push or pop costs O(1) plus O(log buckets), not
/// O(log n); with all ranks distinct it is an ordinary heap. Positions enter a bucket mostly in order (a left
/// to right pass over one rank pushes its new pairs left to right); a bucket that got one out of order is
/// sorted when its turn comes. A bucket's positions lie in chunks of 16 (64 bytes), so taking a
/// bucket's turn reads memory in order even when many buckets fill at once. Arrays come from the shared pool
/// and go back to it when a word left them large.
/// </summary>
internal sealed class MergeCandidateQueue
{
    private const int None = -1;
    private const int KeptLength = 1 << 16;
    private const int ChunkSize = 16; // positions per chunk

    private readonly int[] _bucketOfRank; // rank → its bucket while the bucket holds candidates, else None
    // buckets, by id: the rank, the slot its next position is read from and the free slot the next one goes
    // to (indices into _positions; equal when empty), whether its positions are in order, the last one added
    private int[] _rank, _head, _tail, _lastPosition;
    private bool[] _sorted;
    private int _bucketsUsed;
    private int[] _freeBuckets;
    private int _freeBucketCount;
    private int[] _heap; // bucket ids, min-heap on rank
    private int _heapCount;
    // chunks: ChunkSize positions each in _positions; a bucket's chunks are chained by _nextChunk
    private int[] _positions, _nextChunk;
    private int _chunksUsed;
    private int _freeChunk = None;
    private int[] _sortScratch;
    private int _lastPoppedRank = -1;
    // Heap mode, for rules whose ranks do not rise as merges go on (see Push): (rank << 32 | position), min-heap.
    private bool _heapMode;
    private long[] _pairs;
    private int _pairCount;

    public MergeCandidateQueue(int rankLimit)
    {
        _bucketOfRank = new int[rankLimit];
        Array.Fill(_bucketOfRank, None);
        _rank = Rent<int>(16);
        _head = Rent<int>(16);
        _tail = Rent<int>(16);
        _lastPosition = Rent<int>(16);
        _sorted = Rent<bool>(16);
        _freeBuckets = Rent<int>(16);
        _heap = Rent<int>(16);
        _positions = Rent<int>(16 * ChunkSize);
        _nextChunk = Rent<int>(16);
        _sortScratch = Rent<int>(16);
        _pairs = Rent<long>(16);
    }

    public bool IsEmpty => _heapMode ? _pairCount == 0 : _heapCount == 0;

    /// <summary>Makes room for <paramref name="candidates"/> candidates at once (a word's first pairs), rather
    /// than growing by doubling.</summary>
    public void Reserve(int candidates)
    {
        int chunks = candidates / ChunkSize + 16;
        if (chunks * ChunkSize > _positions.Length) Grow(ref _positions, chunks * ChunkSize);
        if (chunks > _nextChunk.Length) Grow(ref _nextChunk, chunks);
    }

    /// <summary>True once a rank not above the last one taken turned the queue into a plain heap (until Clear).</summary>
    internal bool IsHeap => _heapMode;

    /// <summary>
    /// Adds a candidate. With rules in training order a merge only forms pairs of higher rank than its own (a
    /// rule joins tokens that earlier rules made), so a bucket, once its turn came, gets nothing more and is
    /// sorted at most once. A rank not above the last one taken breaks that (a hand-made rule list may do it):
    /// the queue then turns into a plain heap for the rest of the word, so no bucket is sorted again and again.
    /// </summary>
    public void Push(int rank, int position)
    {
        if (rank <= _lastPoppedRank && !_heapMode) EnterHeapMode();
        if (_heapMode)
        {
            PushPair((long)rank << 32 | (uint)position);
            return;
        }
        int bucket = _bucketOfRank[rank];
        if (bucket == None) bucket = NewBucket(rank);
        else if (position < _lastPosition[bucket]) _sorted[bucket] = false;
        int at = _tail[bucket];
        _positions[at++] = position;
        if (at % ChunkSize == 0) // that chunk is full: chain the next one now, so the tail is always a free slot
        {
            int chunk = NewChunk();
            _nextChunk[at / ChunkSize - 1] = chunk;
            at = chunk * ChunkSize;
        }
        _tail[bucket] = at;
        _lastPosition[bucket] = Math.Max(_lastPosition[bucket], position);
    }

    /// <summary>Takes the candidate with the lowest rank, the lowest position among those. The queue must not be empty.</summary>
    public (int Rank, int Position) Pop()
    {
        if (_heapMode)
        {
            long top = _pairs[0];
            _pairs[0] = _pairs[--_pairCount];
            if (_pairCount > 0) SiftDownPair(0);
            return ((int)(top >> 32), (int)(uint)top);
        }
        int bucket = _heap[0];
        if (!_sorted[bucket]) SortBucket(bucket);
        int at = _head[bucket];
        int position = _positions[at++];
        int rank = _rank[bucket];
        if (at % ChunkSize == 0) // on to the next chunk
        {
            int done = at / ChunkSize - 1;
            at = _nextChunk[done] * ChunkSize;
            FreeChunk(done);
        }
        _head[bucket] = at;
        if (at == _tail[bucket])
        {
            FreeChunk(at / ChunkSize);
            _bucketOfRank[rank] = None;
            _freeBuckets[_freeBucketCount++] = bucket;
            _heap[0] = _heap[--_heapCount];
            if (_heapCount > 0) SiftDown(0);
        }
        _lastPoppedRank = rank;
        return (rank, position);
    }

    /// <summary>Empties the queue; arrays a long word grew are given back to the pool for smaller ones.</summary>
    public void Clear()
    {
        while (_heapCount > 0) _bucketOfRank[_rank[_heap[--_heapCount]]] = None;
        _bucketsUsed = _freeBucketCount = _chunksUsed = 0;
        _freeChunk = None;
        _lastPoppedRank = -1;
        _heapMode = false;
        _pairCount = 0;
        if (_pairs.Length > KeptLength) Replace(ref _pairs, 16);
        if (_positions.Length > KeptLength)
        {
            Replace(ref _positions, 16 * ChunkSize);
            Replace(ref _nextChunk, 16);
        }
        if (_rank.Length > KeptLength)
        {
            Replace(ref _rank, 16);
            Replace(ref _head, 16);
            Replace(ref _tail, 16);
            Replace(ref _lastPosition, 16);
            Replace(ref _sorted, 16);
            Replace(ref _freeBuckets, 16);
            Replace(ref _heap, 16);
        }
        if (_sortScratch.Length > KeptLength) Replace(ref _sortScratch, 16);
    }

    private int NewBucket(int rank)
    {
        int bucket;
        if (_freeBucketCount > 0) bucket = _freeBuckets[--_freeBucketCount];
        else
        {
            if (_bucketsUsed == _rank.Length)
            {
                int size = _bucketsUsed + 1;
                Grow(ref _rank, size);
                Grow(ref _head, size);
                Grow(ref _tail, size);
                Grow(ref _lastPosition, size);
                Grow(ref _sorted, size);
                Grow(ref _freeBuckets, size);
                Grow(ref _heap, size);
            }
            bucket = _bucketsUsed++;
        }
        _bucketOfRank[rank] = bucket;
        _rank[bucket] = rank;
        _sorted[bucket] = true;
        _lastPosition[bucket] = int.MinValue;
        _head[bucket] = _tail[bucket] = NewChunk() * ChunkSize;
        // sift up by rank
        int i = _heapCount++;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (_rank[_heap[parent]] <= rank) break;
            _heap[i] = _heap[parent];
            i = parent;
        }
        _heap[i] = bucket;
        return bucket;
    }

    private void SiftDown(int i)
    {
        int bucket = _heap[i], rank = _rank[bucket];
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= _heapCount) break;
            if (child + 1 < _heapCount && _rank[_heap[child + 1]] < _rank[_heap[child]]) child++;
            if (_rank[_heap[child]] >= rank) break;
            _heap[i] = _heap[child];
            i = child;
        }
        _heap[i] = bucket;
    }

    private int NewChunk()
    {
        int chunk = _freeChunk;
        if (chunk != None)
        {
            _freeChunk = _nextChunk[chunk];
            return chunk;
        }
        if ((_chunksUsed + 1) * ChunkSize > _positions.Length) Grow(ref _positions, (_chunksUsed + 1) * ChunkSize);
        if (_chunksUsed + 1 > _nextChunk.Length) Grow(ref _nextChunk, _chunksUsed + 1);
        return _chunksUsed++;
    }

    private void FreeChunk(int chunk)
    {
        _nextChunk[chunk] = _freeChunk;
        _freeChunk = chunk;
    }

    /// <summary>Puts the bucket's positions in order, in the chunks they occupy.</summary>
    private void SortBucket(int bucket)
    {
        int count = 0;
        for (int at = _head[bucket]; at != _tail[bucket]; at = Step(at))
        {
            if (count == _sortScratch.Length) Grow(ref _sortScratch, count + 1);
            _sortScratch[count++] = _positions[at];
        }
        var positions = _sortScratch.AsSpan(0, count);
        positions.Sort();
        int k = 0;
        for (int at = _head[bucket]; at != _tail[bucket]; at = Step(at)) _positions[at] = positions[k++];
        _sorted[bucket] = true;
    }

    /// <summary>The slot after <paramref name="at"/> in its bucket's chunks.</summary>
    private int Step(int at)
    {
        at++;
        return at % ChunkSize == 0 ? _nextChunk[at / ChunkSize - 1] * ChunkSize : at;
    }

    /// <summary>Moves every candidate into the heap of pairs: taken out in order, they form a valid heap as they are.</summary>
    private void EnterHeapMode()
    {
        while (_heapCount > 0)
        {
            var (rank, position) = Pop();
            if (_pairCount == _pairs.Length) Grow(ref _pairs, _pairCount + 1);
            _pairs[_pairCount++] = (long)rank << 32 | (uint)position;
        }
        _heapMode = true;
    }

    private void PushPair(long pair)
    {
        if (_pairCount == _pairs.Length) Grow(ref _pairs, _pairCount + 1);
        int i = _pairCount++;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (_pairs[parent] <= pair) break;
            _pairs[i] = _pairs[parent];
            i = parent;
        }
        _pairs[i] = pair;
    }

    private void SiftDownPair(int i)
    {
        long pair = _pairs[i];
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= _pairCount) break;
            if (child + 1 < _pairCount && _pairs[child + 1] < _pairs[child]) child++;
            if (_pairs[child] >= pair) break;
            _pairs[i] = _pairs[child];
            i = child;
        }
        _pairs[i] = pair;
    }

    private static T[] Rent<T>(int length) => ArrayPool<T>.Shared.Rent(length);

    private static void Grow<T>(ref T[] array, int atLeast)
    {
        var larger = ArrayPool<T>.Shared.Rent(Math.Max(atLeast, array.Length * 2));
        array.AsSpan().CopyTo(larger);
        ArrayPool<T>.Shared.Return(array);
        array = larger;
    }

    private static void Replace<T>(ref T[] array, int length)
    {
        ArrayPool<T>.Shared.Return(array);
        array = ArrayPool<T>.Shared.Rent(length);
    }
}
