using System.Runtime.CompilerServices;
using System.Text;

namespace QwenSharp.Text;

/// <summary>
/// Token spelling (UTF-8) → id for resolving merge rules at load: an open-addressing table whose spellings sit
/// in one byte pool in insertion order, looked up by span without allocating. Dictionary's span lookup
/// (AlternateLookup) is a generic instantiation the runtime ships uncompiled, so in a fresh process its first
/// ~450,000 calls (three per merge rule) ran unoptimized; this table's code is compiled fully optimized at its
/// first call, and keeping each slot's hash beside it means a probe touches a spelling only when it matches.
/// </summary>
internal sealed class VocabularyIndex
{
    private byte[] _pool;                      // the spellings, back to back
    private int _poolUsed;
    private int[] _starts;                     // entry → start in the pool; the entry's length is the next start minus it
    private int[] _ids;                        // entry → id
    private long[] _slots;                     // slot → the spelling's hash << 32 | entry + 1; 0 marks an empty slot
    private int _count;

    /// <param name="capacity">how many spellings to expect (it grows past that)</param>
    public VocabularyIndex(int capacity = 512)
    {
        int size = 16;
        while (size < capacity * 2) size <<= 1;
        _slots = new long[size];
        _starts = new int[capacity + 2];
        _ids = new int[capacity + 2];
        _pool = new byte[capacity * 8];
    }

    public int Count => _count;

    /// <summary>The spelling of the <paramref name="entry"/>-th distinct spelling added.</summary>
    public ReadOnlySpan<byte> Spelling(int entry) => _pool.AsSpan(_starts[entry], _starts[entry + 1] - _starts[entry]);

    /// <summary>The id of the <paramref name="entry"/>-th distinct spelling added.</summary>
    public int Id(int entry) => _ids[entry];

    /// <summary>Adds a spelling and returns its entry; one added twice keeps its entry and its later id, as a JSON
    /// object read into a map does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Add(ReadOnlySpan<byte> spelling, int id)
    {
        if ((_count + 1) * 2 > _slots.Length) Grow();
        int hash = Hash(spelling);
        int mask = _slots.Length - 1;
        int slot = hash & mask;
        while (_slots[slot] != 0)
        {
            long s = _slots[slot];
            if ((int)(s >> 32) == hash && Spelling((int)s - 1).SequenceEqual(spelling))
            {
                _ids[(int)s - 1] = id;
                return (int)s - 1;
            }
            slot = (slot + 1) & mask;
        }
        if (_count + 1 >= _starts.Length)
        {
            Array.Resize(ref _starts, _starts.Length * 2);
            Array.Resize(ref _ids, _ids.Length * 2);
        }
        if (_poolUsed + spelling.Length > _pool.Length) Array.Resize(ref _pool, Math.Max(_pool.Length * 2, _poolUsed + spelling.Length));
        _starts[_count] = _poolUsed;
        spelling.CopyTo(_pool.AsSpan(_poolUsed));
        _poolUsed += spelling.Length;
        _starts[_count + 1] = _poolUsed;
        _ids[_count] = id;
        _slots[slot] = (long)hash << 32 | (uint)++_count;
        return _count - 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryGet(ReadOnlySpan<byte> spelling, out int id)
    {
        int hash = Hash(spelling);
        int mask = _slots.Length - 1;
        int slot = hash & mask;
        while (true)
        {
            long s = _slots[slot];
            if (s == 0) break;
            if ((int)(s >> 32) == hash && Spelling((int)s - 1).SequenceEqual(spelling))
            {
                id = _ids[(int)s - 1];
                return true;
            }
            slot = (slot + 1) & mask;
        }
        id = -1;
        return false;
    }

    /// <summary>The UTF-8 of <paramref name="token"/> in <paramref name="buffer"/>, or in a new array when longer.</summary>
    public static ReadOnlySpan<byte> Encode(ReadOnlySpan<char> token, Span<byte> buffer) =>
        Encoding.UTF8.GetMaxByteCount(token.Length) <= buffer.Length
            ? buffer[..Encoding.UTF8.GetBytes(token, buffer)]
            : Encoding.UTF8.GetBytes(token.ToArray());

    private void Grow()
    {
        var slots = new long[_slots.Length * 2];
        int mask = slots.Length - 1;
        foreach (long s in _slots)
        {
            if (s == 0) continue;
            int slot = (int)(s >> 32) & mask;
            while (slots[slot] != 0) slot = (slot + 1) & mask;
            slots[slot] = s;
        }
        _slots = slots;
    }

    // FNV-1a over the bytes, then a multiplicative mix so the low bits (the slot) depend on every byte.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Hash(ReadOnlySpan<byte> s)
    {
        uint h = 2166136261;
        foreach (byte c in s) h = (h ^ c) * 16777619;
        return (int)((h * 0x9E3779B1u) >> 7);
    }
}
