using System.Runtime.CompilerServices;

namespace QwenSharp.Text;

/// <summary>
/// Token spelling → id for resolving merge rules at load: an open-addressing table over the spellings, looked up
/// by span without allocating. Dictionary's span lookup (AlternateLookup) is a generic instantiation the runtime
/// ships uncompiled, so in a fresh process its first ~450,000 calls (three per merge rule) ran unoptimized and
/// made up most of a cold tokenizer.json load; this table's code is compiled fully optimized at its first call.
/// </summary>
internal sealed class VocabularyIndex
{
    private readonly string[] _spellings; // slot → spelling; null marks an empty slot
    private readonly int[] _ids;          // slot → id
    private readonly int _mask;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public VocabularyIndex(Dictionary<string, int> vocab)
    {
        int size = 16;
        while (size < vocab.Count * 2) size <<= 1;
        _spellings = new string[size];
        _ids = new int[size];
        _mask = size - 1;
        foreach (var (token, id) in vocab)
        {
            int slot = Hash(token) & _mask;
            while (_spellings[slot] != null) slot = (slot + 1) & _mask;
            _spellings[slot] = token;
            _ids[slot] = id;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryGet(ReadOnlySpan<char> token, out int id)
    {
        int slot = Hash(token) & _mask;
        while (true)
        {
            string? s = _spellings[slot];
            if (s == null) break;
            if (token.SequenceEqual(s))
            {
                id = _ids[slot];
                return true;
            }
            slot = (slot + 1) & _mask;
        }
        id = -1;
        return false;
    }

    // FNV-1a over the UTF-16 units, then a multiplicative mix so the low bits (the slot) depend on every unit.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Hash(ReadOnlySpan<char> s)
    {
        uint h = 2166136261;
        foreach (char c in s) h = (h ^ c) * 16777619;
        return (int)((h * 0x9E3779B1u) >> 7);
    }
}
