using System.Runtime.CompilerServices;
using System.Buffers;
using System.Text;
using QwenSharp.Text.Unicode;

namespace QwenSharp.Text;

/// <summary>
/// Qwen2's byte-level BPE tokenizer (Qwen2, Qwen2.5 and Qwen3 share it), giving the ids Hugging Face
/// tokenizers gives. Encoding, as HF does it: lone UTF-16 surrogates become U+FFFD (HF refuses such
/// strings; .NET strings may hold them), added tokens are cut out of the raw text, each remaining piece is
/// NFC-normalized, split by Qwen's pre-tokenizer regex, spelt as UTF-8 bytes and merged by BPE rank.
/// Thread-safe; each thread keeps its own cache of merged words.
/// </summary>
public sealed class Qwen2Tokenizer
{
    private const int MaxCachedWordLength = 48;
    private const int MaxCacheEntries = 50_000; // per thread; about 10 MB at most (HF caps its cache at 10,000 words)
    private const int MaxKeptIds = 1 << 18;      // per thread, 1 MB

    private readonly VocabularyIndex _spellings;     // spelling (UTF-8) → id; added tokens' content included
    private readonly int[] _spellingOf;              // by id: its entry in _spellings, or -1 for ids that name no token
    private readonly byte[] _bytePool;               // the bytes each token stands for, back to back in id order
    private readonly int[] _byteStarts;              // by id, one more: start in _bytePool; a token's end is the next id's start
    private readonly bool[] _special;
    private readonly int[] _byteToId = new int[256];
    private readonly MergeTable _merges;
    private readonly AddedTokenMatcher _rawAdded;    // matched before NFC (normalized: false)
    private readonly AddedTokenMatcher _normalizedAdded;
    private readonly ThreadLocal<EncodeState> _state;

    /// <param name="vocab">the BPE vocabulary, byte-level spelling → id (taken over: added tokens join it)</param>
    /// <param name="merges">the merge rules as ids (left, right, merged), lowest rank first</param>
    /// <param name="addedTokens">tokens matched whole in the text</param>
    /// <remarks>Everything is kept as UTF-8 in a few arrays, not as 151k strings and a Dictionary: on machines
    /// where a page fault costs microseconds, the memory a load touches for the first time is most of its time.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs once per load: skip the slow first tier
    internal Qwen2Tokenizer(VocabularyIndex vocab, IReadOnlyList<(int Left, int Right, int Merged)> merges,
        IReadOnlyList<AddedToken> addedTokens, string source)
    {
        int size = 0;
        for (int entry = 0; entry < vocab.Count; entry++)
        {
            int id = vocab.Id(entry);
            if (id < 0) throw new FormatException($"{source}: token '{Encoding.UTF8.GetString(vocab.Spelling(entry))}' has the negative id {id}.");
            size = Math.Max(size, id + 1);
        }
        foreach (var t in addedTokens)
        {
            if (t.Id < 0) throw new FormatException($"{source}: added token '{t.Content}' has the negative id {t.Id}.");
            size = Math.Max(size, t.Id + 1);
        }
        _spellings = vocab;
        _spellingOf = new int[size];
        _special = new bool[size];
        Array.Fill(_spellingOf, -1);
        for (int entry = 0; entry < vocab.Count; entry++) _spellingOf[vocab.Id(entry)] = entry;
        Span<byte> buffer = stackalloc byte[1024];
        foreach (var t in addedTokens)
        {
            _spellingOf[t.Id] = vocab.Add(VocabularyIndex.Encode(t.Content, buffer), t.Id);
            _special[t.Id] = t.Special;
        }
        // A byte-level spelling takes 1 or 2 UTF-8 bytes per byte it stands for, so the spellings' length bounds the pool.
        int poolSize = 0;
        for (int id = 0; id < size; id++) poolSize += _spellingOf[id] < 0 ? 0 : vocab.Spelling(_spellingOf[id]).Length;
        _bytePool = new byte[poolSize];
        _byteStarts = new int[size + 1];
        int used = 0;
        for (int id = 0; id < size; id++)
        {
            _byteStarts[id] = used;
            if (_spellingOf[id] >= 0) used += ByteLevelAlphabet.Decode(vocab.Spelling(_spellingOf[id]), _bytePool.AsSpan(used));
        }
        _byteStarts[size] = used;
        for (int b = 0; b < 256; b++)
        {
            char c = ByteLevelAlphabet.ByteToChar((byte)b);
            if (!vocab.TryGet(VocabularyIndex.Encode([c], buffer), out int id))
                throw new FormatException($"{source}: the vocabulary lacks the byte-level token '{c}' for byte 0x{b:X2}, so it is not a byte-level BPE vocabulary.");
            _byteToId[b] = id;
        }
        _merges = new MergeTable(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (l, r, m) = merges[rank];
            _merges.Add(l, r, rank, m, source);
        }
        AddedTokens = addedTokens.OrderBy(t => t.Id).ToArray();
        _rawAdded = new AddedTokenMatcher(AddedTokens.Where(t => !t.Normalized), t => t.Content);
        _normalizedAdded = new AddedTokenMatcher(AddedTokens.Where(t => t.Normalized), t => NfcNormalizer.Normalize(t.Content));
        _state = new ThreadLocal<EncodeState>(() => new EncodeState());
    }

    /// <summary>Loads a Hugging Face tokenizer.json of Qwen2's kind (BPE model, byte-level, NFC, Qwen's regex).</summary>
    public static Qwen2Tokenizer FromTokenizerJson(string path) => TokenizerJsonReader.Read(path);

    /// <summary>Loads vocab.json + merges.txt, with the added tokens of tokenizer_config.json's
    /// added_tokens_decoder when <paramref name="tokenizerConfig"/> is given.</summary>
    public static Qwen2Tokenizer FromVocabAndMerges(string vocab, string merges, string? tokenizerConfig = null) =>
        VocabMergesReader.Read(vocab, merges, tokenizerConfig);

    /// <summary>Loads the tokenizer of a model folder: tokenizer.json when present, else vocab.json + merges.txt
    /// (+ tokenizer_config.json).</summary>
    public static Qwen2Tokenizer FromFolder(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"Tokenizer folder {dir} does not exist.");
        string json = Path.Combine(dir, "tokenizer.json");
        if (File.Exists(json)) return FromTokenizerJson(json);
        string vocab = Path.Combine(dir, "vocab.json"), merges = Path.Combine(dir, "merges.txt");
        if (File.Exists(vocab) && File.Exists(merges))
        {
            string config = Path.Combine(dir, "tokenizer_config.json");
            return FromVocabAndMerges(vocab, merges, File.Exists(config) ? config : null);
        }
        throw new FileNotFoundException($"Folder {dir} has neither tokenizer.json nor vocab.json + merges.txt.");
    }

    /// <summary>
    /// Builds the tokenizer from GGUF-style vocabulary lists (tokenizer.ggml.tokens / token_type / merges):
    /// tokens spelt in the byte-level alphabet like vocab.json, types 1 normal, 3 control (a special added
    /// token), 4 user-defined (an added token that is not special), 5 unused (a padding id, never produced);
    /// merges as "left right" strings.
    /// </summary>
    public static Qwen2Tokenizer FromVocabulary(IReadOnlyList<string> tokens, IReadOnlyList<int> tokenTypes, IReadOnlyList<string> merges) =>
        GgufVocabularyReader.Read(tokens, tokenTypes, merges);

    /// <summary>Highest id + 1, added tokens included (HF's len(tokenizer)).</summary>
    public int VocabSize => _spellingOf.Length;

    /// <summary>The added tokens, by id.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    public bool IsSpecial(int id) => (uint)id < (uint)_special.Length && _special[id];

    public int? TokenToId(string token)
    {
        Span<byte> buffer = stackalloc byte[256];
        return _spellings.TryGet(VocabularyIndex.Encode(token, buffer), out int id) ? id : null;
    }

    /// <summary>The token's spelling in the vocabulary (byte-level alphabet), or an added token's content.</summary>
    public string IdToToken(int id) => Encoding.UTF8.GetString(_spellings.Spelling(_spellingOf[Known(id)]));

    /// <summary>The bytes the token stands for (an added token: its UTF-8 content).</summary>
    public ReadOnlySpan<byte> TokenBytes(int id) => Bytes(Known(id));

    /// <summary>True when <paramref name="id"/> names a token (ids of padding rows do not).</summary>
    public bool IsKnown(int id) => (uint)id < (uint)_spellingOf.Length && _spellingOf[id] >= 0;

    private int Known(int id) => IsKnown(id) ? id
        : throw new ArgumentOutOfRangeException(nameof(id), $"Token id {id} is not in the vocabulary (size {VocabSize}).");

    private ReadOnlySpan<byte> Bytes(int id) => _bytePool.AsSpan(_byteStarts[id], _byteStarts[id + 1] - _byteStarts[id]);

    public int[] Encode(string text)
    {
        // The ids gather in a list this thread keeps, so a long text allocates its result once rather than a
        // list grown by doubling and then copied (fresh large arrays cost page faults in proportion to size).
        var st = _state.Value!;
        var ids = st.Ids ?? new List<int>(256);
        st.Ids = null;
        ids.Clear();
        Encode(text, ids);
        int[] result = ids.ToArray();
        if (ids.Capacity <= MaxKeptIds) st.Ids = ids;
        return result;
    }

    /// <summary>Appends the ids of <paramref name="text"/> to <paramref name="ids"/>.</summary>
    public void Encode(ReadOnlySpan<char> text, List<int> ids)
    {
        var st = _state.Value!;
        text = ReplaceLoneSurrogates(text, ref st.SurrogateScratch);
        if (_rawAdded.IsEmpty)
        {
            EncodeSegment(text, ids, st);
            return;
        }
        int pos = 0;
        while (_rawAdded.FindNext(text, pos, pos, out var token, out int start, out int end))
        {
            EncodeSegment(text[pos..start], ids, st);
            ids.Add(token.Id);
            pos = end;
        }
        EncodeSegment(text[pos..], ids, st);
    }

    /// <summary>
    /// The text of <paramref name="ids"/>: token bytes joined and read as UTF-8, each invalid sequence
    /// becoming U+FFFD (HF's ByteLevel decoder, from_utf8_lossy). Ids that name no token are skipped, as HF does.
    /// </summary>
    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = false)
    {
        var buffer = new ArrayBufferWriter<byte>(ids.Count * 4 + 16);
        for (int i = 0; i < ids.Count; i++) AppendTokenBytes(ids[i], skipSpecialTokens, buffer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    internal void AppendTokenBytes(int id, bool skipSpecialTokens, IBufferWriter<byte> output)
    {
        if (!IsKnown(id)) return;
        if (skipSpecialTokens && _special[id]) return;
        output.Write(Bytes(id));
    }

    private void EncodeSegment(ReadOnlySpan<char> segment, List<int> ids, EncodeState st)
    {
        if (segment.IsEmpty) return;
        var normalized = NfcNormalizer.Normalize(segment, ref st.NfcScratch);
        if (_normalizedAdded.IsEmpty)
        {
            EncodeNormalized(normalized, ids, st);
            return;
        }
        int pos = 0;
        while (_normalizedAdded.FindNext(normalized, pos, pos, out var token, out int start, out int end))
        {
            EncodeNormalized(normalized[pos..start], ids, st);
            ids.Add(token.Id);
            pos = end;
        }
        EncodeNormalized(normalized[pos..], ids, st);
    }

    private void EncodeNormalized(ReadOnlySpan<char> text, List<int> ids, EncodeState st)
    {
        int i = 0;
        while (i < text.Length)
        {
            int end = Qwen2PreTokenizer.NextPieceEnd(text, i);
            EncodeWord(text[i..end], ids, st);
            i = end;
        }
    }

    private void EncodeWord(ReadOnlySpan<char> word, List<int> ids, EncodeState st)
    {
        if (word.Length == 1 && word[0] < 0x80)
        {
            ids.Add(_byteToId[word[0]]);
            return;
        }
        bool cacheable = word.Length <= MaxCachedWordLength;
        if (cacheable && st.CacheLookup.TryGetValue(word, out int[]? cached))
        {
            ids.AddRange(cached);
            return;
        }
        // The scratch is kept for words of ordinary size; a longer one (a long run of one kind) borrows from the
        // shared pool instead of pinning megabytes to this thread.
        int n = Encoding.UTF8.GetMaxByteCount(word.Length);
        if (n > BpeWordMerger.KeptCapacity)
        {
            EncodeLongWord(word, ids, st);
            return;
        }
        if (n > st.Bytes.Length) st.Grow(n);
        n = Encoding.UTF8.GetBytes(word, st.Bytes);
        var symbols = st.Symbols.AsSpan(0, n);
        for (int i = 0; i < n; i++) symbols[i] = _byteToId[st.Bytes[i]];
        var result = symbols[..st.Merger.Merge(symbols, _merges)];
        if (cacheable)
        {
            if (st.Cache.Count >= MaxCacheEntries) st.Cache.Clear();
            st.Cache[word.ToString()] = result.ToArray();
        }
        ids.AddRange(result);
    }

    private void EncodeLongWord(ReadOnlySpan<char> word, List<int> ids, EncodeState st)
    {
        int n = Encoding.UTF8.GetByteCount(word);
        byte[] bytes = ArrayPool<byte>.Shared.Rent(n);
        int[] symbols = ArrayPool<int>.Shared.Rent(n);
        try
        {
            Encoding.UTF8.GetBytes(word, bytes);
            for (int i = 0; i < n; i++) symbols[i] = _byteToId[bytes[i]];
            ids.AddRange(symbols.AsSpan(0, st.Merger.Merge(symbols.AsSpan(0, n), _merges)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
            ArrayPool<int>.Shared.Return(symbols);
        }
    }

    /// <summary>Each unpaired UTF-16 surrogate becomes U+FFFD (a policy of ours: HF refuses such text).</summary>
    internal static ReadOnlySpan<char> ReplaceLoneSurrogates(ReadOnlySpan<char> text, ref char[]? scratch)
    {
        int first = text.IndexOfAnyInRange('\uD800', '\uDFFF');
        if (first < 0) return text;
        char[]? copy = null;
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (!char.IsSurrogate(c)) continue;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }
            if (copy == null)
            {
                copy = scratch != null && scratch.Length >= text.Length ? scratch : new char[text.Length];
                text.CopyTo(copy);
                scratch = copy;
            }
            copy[i] = '\uFFFD';
        }
        return copy == null ? text : copy.AsSpan(0, text.Length);
    }

    private sealed class EncodeState
    {
        public readonly Dictionary<string, int[]> Cache = new(StringComparer.Ordinal);
        public readonly Dictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> CacheLookup;
        public char[]? NfcScratch;
        public char[]? SurrogateScratch;
        public List<int>? Ids;
        public byte[] Bytes = new byte[256];
        public int[] Symbols = new int[256];
        public readonly BpeWordMerger Merger = new();

        public EncodeState() => CacheLookup = Cache.GetAlternateLookup<ReadOnlySpan<char>>();

        public void Grow(int n)
        {
            n = Math.Min(Math.Max(n, Bytes.Length * 2), BpeWordMerger.KeptCapacity);
            Bytes = new byte[n];
            Symbols = new int[n];
        }
    }
}
