using QwenSharp.Text;

namespace QwenSharp.Grammar;

/// <summary>
/// The vocabulary as a grammar sees it: the bytes each token id spells (byte-level BPE, so a token may end
/// inside a UTF-8 character), which ids end the text (eos, stop ids: allowed only where the grammar is
/// complete), and the ids that are never allowed (special tokens, padding rows of the logits beyond the
/// tokenizer). Built once per model and shared by every compiled grammar.
/// </summary>
public sealed class GrammarVocabulary
{
    private readonly int _size;
    private readonly int[] _endIds;

    /// <param name="tokenBytes">Bytes per id, one entry per logit; null for an id a grammar never allows.</param>
    /// <param name="endTokenIds">Ids that end the text.</param>
    public GrammarVocabulary(IReadOnlyList<byte[]?> tokenBytes, IReadOnlyCollection<int> endTokenIds)
    {
        ArgumentNullException.ThrowIfNull(tokenBytes);
        ArgumentNullException.ThrowIfNull(endTokenIds);
        _size = tokenBytes.Count;
        foreach (int id in endTokenIds)
            if ((uint)id >= (uint)_size)
                throw new ArgumentOutOfRangeException(nameof(endTokenIds), $"End token id {id} is outside the vocabulary of {_size} ids.");
        _endIds = endTokenIds.Distinct().Order().ToArray();
        var isEnd = new HashSet<int>(_endIds);

        // Tokens that spell bytes, sorted by those bytes: the mask walks them as a trie (shared prefixes read once).
        var ids = new List<int>();
        for (int id = 0; id < _size; id++)
            if (!isEnd.Contains(id) && tokenBytes[id] is { Length: > 0 }) ids.Add(id);
        ids.Sort((x, y) => tokenBytes[x]!.AsSpan().SequenceCompareTo(tokenBytes[y]));
        SortedIds = ids.ToArray();
        Offsets = new int[SortedIds.Length + 1];
        long total = 0;
        foreach (int id in SortedIds) total += tokenBytes[id]!.Length;
        Pool = new byte[total];
        Lcp = new int[SortedIds.Length];
        int at = 0;
        for (int i = 0; i < SortedIds.Length; i++)
        {
            var bytes = tokenBytes[SortedIds[i]]!;
            Offsets[i] = at;
            bytes.CopyTo(Pool, at);
            at += bytes.Length;
            if (i > 0) Lcp[i] = CommonPrefix(Token(i - 1), bytes);
            MaxTokenLength = Math.Max(MaxTokenLength, bytes.Length);
        }
        Offsets[^1] = at;
        var singles = new bool[256];
        foreach (int id in SortedIds)
            if (tokenBytes[id]!.Length == 1) singles[tokenBytes[id]![0]] = true;
        HasEverySingleByte = singles.All(x => x);
        TokenBytesById = new byte[]?[_size];
        for (int id = 0; id < _size; id++) TokenBytesById[id] = isEnd.Contains(id) ? null : tokenBytes[id];
    }

    /// <summary>From the tokenizer: special tokens have no bytes (never allowed) unless they are end ids;
    /// non-special added tokens (e.g. Qwen2.5's &lt;tool_call&gt;) spell their content.</summary>
    public static GrammarVocabulary FromTokenizer(Qwen2Tokenizer tokenizer, int logitsLength, IReadOnlyCollection<int> endTokenIds)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (logitsLength < 1)
            throw new ArgumentOutOfRangeException(nameof(logitsLength), $"Logits length {logitsLength} must be at least 1.");
        var bytes = new byte[]?[logitsLength];
        for (int id = 0; id < logitsLength && id < tokenizer.VocabSize; id++)
            if (tokenizer.IsKnown(id) && !tokenizer.IsSpecial(id)) bytes[id] = tokenizer.TokenBytes(id).ToArray();
        return new GrammarVocabulary(bytes, endTokenIds);
    }

    /// <summary>Number of logits (token ids) a mask covers.</summary>
    public int Size => _size;

    /// <summary>The ids that end the text.</summary>
    public IReadOnlyCollection<int> EndTokenIds => _endIds;

    /// <summary>Token ids that spell bytes, in byte order.</summary>
    internal int[] SortedIds { get; }

    /// <summary>Bytes of the sorted tokens back to back: token i is Pool[Offsets[i] .. Offsets[i+1]).</summary>
    internal byte[] Pool { get; }
    internal int[] Offsets { get; }

    /// <summary>Lcp[i]: bytes token i shares at its start with token i − 1 (sorted order).</summary>
    internal int[] Lcp { get; }

    internal int MaxTokenLength { get; }

    /// <summary>Every byte value is a token of its own (byte-level BPE): then no mask of a live grammar is empty.</summary>
    internal bool HasEverySingleByte { get; }

    /// <summary>Bytes by id (null: never allowed, or an end id).</summary>
    internal byte[]?[] TokenBytesById { get; }

    internal ReadOnlySpan<byte> Token(int sortedIndex) => Pool.AsSpan(Offsets[sortedIndex], Offsets[sortedIndex + 1] - Offsets[sortedIndex]);

    internal static int CommonPrefix(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => a.CommonPrefixLength(b);
}
