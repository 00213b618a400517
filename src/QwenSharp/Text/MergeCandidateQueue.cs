using System.Buffers;

namespace QwenSharp.Text;

/// <summary>
/// The candidate merges of one word, taken lowest rank first and, among equal ranks, lowest position first:
/// the order of HF tokenizers' merge heap. Candidates of one rank share a bucket (a list of positions); a
/// binary heap orders the buckets by rank. A word has few distinct ranks in play compared with its length
/// when it is a long run (all of its pairs are alike), so a push or pop costs O(1) plus O(log buckets), not
/// O(log n); with all ranks distinct it is an ordinary heap. Positions enter a bucket mostly in order (a left
/// to right pass over one rank pushes its new pairs left to right); a bucket that got one out of order is
/// sorted when its turn comes. Arrays come from the shared pool and go back to it when a word left them large.
/// </summary>
internal sealed class MergeCandidateQueue
{
    private const int None = -1;
    private const int KeptLength = 1 << 16;

    private readonly int[] _bucketOfRank; // rank → its bucket while the bucket holds candidates, else None
    // buckets, by id: the rank, the first and last node, whether the list is in position order, the last position added
    private int[] _rank, _head, _tail, _lastPosition;
    private bool[] _sorted;
    private int _bucketsUsed;
    private int[] _freeBuckets;
    private int _freeBucketCount;
    private int[] _heap; // bucket ids, min-heap on rank
    private int _heapCount;
    // nodes: one candidate each, chained in its bucket
    private int[] _position, _nextNode;
    private int _nodesUsed;
    private int _freeNode = None;
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
        _position = Rent<int>(256);
        _nextNode = Rent<int>(256);
        _sortScratch = Rent<int>(16);
        _pairs = Rent<long>(16);
    }

    public bool IsEmpty => _heapMode ? _pairCount == 0 : _heapCount == 0;

    /// <summary>Makes room for <paramref name="candidates"/> candidates at once (a word's first pairs), rather
    /// than growing by doubling.</summary>
    public void Reserve(int candidates)
    {
        if (candidates <= _position.Length) return;
        Grow(ref _position, candidates);
        Grow(ref _nextNode, candidates);
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
        int node = _freeNode;
        if (node != None) _freeNode = _nextNode[node];
        else
        {
            if (_nodesUsed == _position.Length)
            {
                Grow(ref _position, _nodesUsed + 1);
                Grow(ref _nextNode, _nodesUsed + 1);
            }
            node = _nodesUsed++;
        }
        _position[node] = position;
        _nextNode[node] = None;

        int bucket = _bucketOfRank[rank];
        if (bucket == None)
        {
            bucket = NewBucket(rank);
            _head[bucket] = node;
        }
        else
        {
            _nextNode[_tail[bucket]] = node;
            if (position < _lastPosition[bucket]) _sorted[bucket] = false;
        }
        _tail[bucket] = node;
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
        int node = _head[bucket];
        int position = _position[node];
        int rank = _rank[bucket];
        _head[bucket] = _nextNode[node];
        _nextNode[node] = _freeNode;
        _freeNode = node;
        if (_head[bucket] == None)
        {
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
        _bucketsUsed = _freeBucketCount = _nodesUsed = 0;
        _freeNode = None;
        _lastPoppedRank = -1;
        _heapMode = false;
        _pairCount = 0;
        if (_pairs.Length > KeptLength) Replace(ref _pairs, 16);
        if (_position.Length > KeptLength)
        {
            Replace(ref _position, 256);
            Replace(ref _nextNode, 256);
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

    /// <summary>Puts the bucket's positions in order, keeping its nodes (they are rewritten in place).</summary>
    private void SortBucket(int bucket)
    {
        int count = 0;
        for (int node = _head[bucket]; node != None; node = _nextNode[node])
        {
            if (count == _sortScratch.Length) Grow(ref _sortScratch, count + 1);
            _sortScratch[count++] = _position[node];
        }
        var positions = _sortScratch.AsSpan(0, count);
        positions.Sort();
        int k = 0;
        for (int node = _head[bucket]; node != None; node = _nextNode[node]) _position[node] = positions[k++];
        _sorted[bucket] = true;
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
