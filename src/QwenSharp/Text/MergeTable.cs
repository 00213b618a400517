using System.Runtime.CompilerServices;
namespace QwenSharp.Text;

/// <summary>
/// The BPE merge rules as an open-addressing hash table: a pair of adjacent token ids → the rule's rank
/// (its line in merges.txt, lower merges first); the merged token is looked up by rank. Each slot is one
/// 64-bit word, (left + 1) in bits 44-63, right in bits 24-43, rank in bits 0-23, so a probe reads 8 bytes
/// and the table of Qwen2's 151k rules is 4 MB. Built once at load; read by many threads.
/// </summary>
internal sealed class MergeTable
{
    private const int IdBits = 20, RankBits = 24;
    private const int MaxId = (1 << IdBits) - 2;  // left + 1 must fit in 20 bits
    private const int MaxRank = (1 << RankBits) - 1;

    private readonly ulong[] _slots; // 0 marks an empty slot
    private readonly int[] _mergedByRank;
    private readonly int _mask;
    private readonly int _shift;

    public MergeTable(int capacity)
    {
        int size = 2; // at least 2: a shift of 64 (size 1) is a shift of 0 in C#
        while (size < capacity * 2) size <<= 1;
        _slots = new ulong[size];
        _mergedByRank = new int[capacity];
        _mask = size - 1;
        _shift = 64 - System.Numerics.BitOperations.Log2((uint)size);
    }

    public int Count { get; private set; }

    /// <summary>Every rank is below this.</summary>
    public int RankLimit => _mergedByRank.Length;

    /// <summary>Adds a rule; a pair listed twice keeps its later rule, as HF's merge map (a HashMap built in
    /// order) does. Ranks must be below the capacity.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs once per load: skip the slow first tier
    public void Add(int left, int right, int rank, int merged, string source)
    {
        if ((uint)left > MaxId || (uint)right > MaxId || rank > MaxRank)
            throw new FormatException($"{source}: merge rule {rank} joins tokens {left} and {right}; ids above {MaxId} and more than {MaxRank} rules are not supported.");
        ulong key = Key(left, right);
        _mergedByRank[rank] = merged;
        int slot = Slot(key);
        while (_slots[slot] != 0)
        {
            if (_slots[slot] >> RankBits == key)
            {
                _slots[slot] = key << RankBits | (uint)rank;
                return;
            }
            slot = (slot + 1) & _mask;
        }
        _slots[slot] = key << RankBits | (uint)rank;
        Count++;
    }

    /// <summary>The rank of the rule merging <paramref name="left"/> and <paramref name="right"/>, or
    /// int.MaxValue when there is none; <paramref name="merged"/> is the resulting token.</summary>
    public int Find(int left, int right, out int merged)
    {
        merged = -1;
        if ((uint)right > MaxId) return int.MaxValue; // would spill into the left id's bits; no rule has it
        ulong key = Key(left, right);
        int slot = Slot(key);
        while (true)
        {
            ulong s = _slots[slot];
            if (s >> RankBits == key)
            {
                int rank = (int)(s & MaxRank);
                merged = _mergedByRank[rank];
                return rank;
            }
            if (s == 0) return int.MaxValue;
            slot = (slot + 1) & _mask;
        }
    }

    // (left + 1, right) in 40 bits: never 0, so an empty slot matches no pair
    private static ulong Key(int left, int right) => (ulong)(uint)(left + 1) << IdBits | (uint)right;

    private int Slot(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> _shift);
}
