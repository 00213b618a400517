using System.Runtime.CompilerServices;
namespace QwenSharp.Text;

/// <summary>
/// The BPE merge rules as an open-addressing hash table: a pair of adjacent token ids → the rule's rank
/// (its line in merges.txt, lower merges first) and the id of the merged token. Built once at load; read by
/// many threads.
/// </summary>
internal sealed class MergeTable
{
    private readonly ulong[] _keys;   // (left + 1) << 32 | right; 0 marks an empty slot
    private readonly int[] _ranks;
    private readonly int[] _merged;
    private readonly int _mask;
    private readonly int _shift;

    public MergeTable(int capacity)
    {
        int size = 2; // at least 2: a shift of 64 (size 1) is a shift of 0 in C#
        while (size < capacity * 2) size <<= 1;
        _keys = new ulong[size];
        _ranks = new int[size];
        _merged = new int[size];
        _mask = size - 1;
        _shift = 64 - System.Numerics.BitOperations.Log2((uint)size);
    }

    public int Count { get; private set; }

    /// <summary>Adds a rule; a pair listed twice keeps its later rule, as HF's merge map (a HashMap built in
    /// order) does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs once per load: skip the slow first tier
    public void Add(int left, int right, int rank, int merged)
    {
        ulong key = Key(left, right);
        int slot = Slot(key);
        while (_keys[slot] != 0)
        {
            if (_keys[slot] == key)
            {
                _ranks[slot] = rank;
                _merged[slot] = merged;
                return;
            }
            slot = (slot + 1) & _mask;
        }
        _keys[slot] = key;
        _ranks[slot] = rank;
        _merged[slot] = merged;
        Count++;
    }

    /// <summary>The rank of the rule merging <paramref name="left"/> and <paramref name="right"/>, or
    /// int.MaxValue when there is none; <paramref name="merged"/> is the resulting token.</summary>
    public int Find(int left, int right, out int merged)
    {
        ulong key = Key(left, right);
        int slot = Slot(key);
        while (true)
        {
            ulong k = _keys[slot];
            if (k == key)
            {
                merged = _merged[slot];
                return _ranks[slot];
            }
            if (k == 0)
            {
                merged = -1;
                return int.MaxValue;
            }
            slot = (slot + 1) & _mask;
        }
    }

    private static ulong Key(int left, int right) => ((ulong)(uint)(left + 1) << 32) | (uint)right;

    private int Slot(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> _shift);
}
