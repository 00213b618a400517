using System.Runtime.CompilerServices;
using System.Text.Json;

namespace QwenSharp.Text;

/// <summary>
/// Reads a Hugging Face tokenizer.json of Qwen2's kind and refuses, with the reason, any other: a model type
/// other than BPE, byte fallback, a subword prefix, a normalizer other than NFC, a pre-tokenizer other than
/// Qwen's regex split + ByteLevel. Streams the 11 MB vocabulary and merges with Utf8JsonReader (fast load).
/// </summary>
internal static class TokenizerJsonReader
{
    public static Qwen2Tokenizer Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Tokenizer file {path} does not exist.", path);
        byte[] data = File.ReadAllBytes(path);
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var merges = new List<(int, int, int)>();
        List<(string, string)>? pendingMerges = null;
        var added = new List<AddedToken>();
        bool sawModel = false;
        try
        {
            var reader = new Utf8JsonReader(data, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
            Expect(ref reader, JsonTokenType.StartObject, path);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                reader.Read();
                switch (name)
                {
                    case "model":
                        ReadModel(ref reader, path, vocab, merges, ref pendingMerges);
                        sawModel = true;
                        break;
                    case "added_tokens":
                        using (var doc = JsonDocument.ParseValue(ref reader)) ReadAddedTokens(doc.RootElement, path, added);
                        break;
                    case "normalizer":
                        using (var doc = JsonDocument.ParseValue(ref reader)) CheckNormalizer(doc.RootElement, path);
                        break;
                    case "pre_tokenizer":
                        using (var doc = JsonDocument.ParseValue(ref reader)) CheckPreTokenizer(doc.RootElement, path);
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path} is not valid JSON (line {e.LineNumber + 1}): {e.Message}", e);
        }
        if (!sawModel) throw new FormatException($"{path} has no \"model\" section, so it is not a Hugging Face tokenizer.json.");
        if (pendingMerges != null)
        {
            // merges came before the vocabulary in the file: resolve them now
            var lookup = new VocabularyIndex(vocab);
            for (int i = 0; i < pendingMerges.Count; i++)
            {
                int at = i;
                merges.Add(MergeResolver.Resolve(lookup, pendingMerges[i].Item1, pendingMerges[i].Item2, () => $"{path}: model.merges[{at}]"));
            }
        }
        return new Qwen2Tokenizer(vocab, merges, added, path);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs once per load: skip the slow first tier
    private static void ReadModel(ref Utf8JsonReader reader, string path, Dictionary<string, int> vocab, List<(int, int, int)> merges,
        ref List<(string, string)>? pendingMerges)
    {
        Expect(ref reader, JsonTokenType.StartObject, path, read: false);
        string? type = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            reader.Read();
            switch (name)
            {
                case "type":
                    type = reader.GetString();
                    if (type != "BPE")
                        throw new FormatException($"{path}: the model type is {type}; only byte-level BPE tokenizers (Qwen2's kind) are supported.");
                    break;
                case "vocab":
                    Expect(ref reader, JsonTokenType.StartObject, path, read: false);
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        string token = reader.GetString()!;
                        reader.Read();
                        vocab[token] = reader.GetInt32();
                    }
                    break;
                case "merges":
                    Expect(ref reader, JsonTokenType.StartArray, path, read: false);
                    var lookup = new VocabularyIndex(vocab);
                    char[] left = new char[512], right = new char[512];
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        int index = merges.Count + (pendingMerges?.Count ?? 0);
                        Func<string> where = () => $"{path}: model.merges[{index}]";
                        int leftLength, rightLength;
                        if (reader.TokenType == JsonTokenType.String)
                        {
                            // the older form: "left right"
                            string line = reader.GetString()!;
                            int space = line.IndexOf(' ');
                            if (space <= 0 || space == line.Length - 1 || line.IndexOf(' ', space + 1) >= 0 || line.Length > 512)
                                throw new FormatException($"{where()}: '{line}' is not a merge rule (two tokens separated by one space).");
                            line.AsSpan(0, space).CopyTo(left);
                            leftLength = space;
                            line.AsSpan(space + 1).CopyTo(right);
                            rightLength = line.Length - space - 1;
                        }
                        else
                        {
                            Expect(ref reader, JsonTokenType.StartArray, path, read: false);
                            reader.Read();
                            leftLength = CopyToken(ref reader, left.AsSpan(), where);
                            reader.Read();
                            rightLength = CopyToken(ref reader, right.AsSpan(), where);
                            reader.Read();
                            if (reader.TokenType != JsonTokenType.EndArray)
                                throw new FormatException($"{where()} is not a pair of tokens.");
                        }
                        if (vocab.Count == 0)
                        {
                            (pendingMerges ??= new()).Add((new string(left, 0, leftLength), new string(right, 0, rightLength)));
                            continue;
                        }
                        merges.Add(MergeResolver.Resolve(lookup, left.AsSpan(0, leftLength), right.AsSpan(0, rightLength), where));
                    }
                    break;
                case "byte_fallback" when reader.TokenType == JsonTokenType.True:
                    throw new FormatException($"{path}: model.byte_fallback is true; byte-level BPE (Qwen2's kind) has no byte fallback.");
                case "ignore_merges" when reader.TokenType == JsonTokenType.True:
                    throw new FormatException($"{path}: model.ignore_merges is true; only Qwen2's BPE (merges always applied) is supported.");
                case "continuing_subword_prefix" or "end_of_word_suffix" when reader.TokenType == JsonTokenType.String && reader.GetString() != "":
                    throw new FormatException($"{path}: model.{name} is '{reader.GetString()}'; byte-level BPE (Qwen2's kind) has none.");
                default:
                    reader.Skip();
                    break;
            }
        }
        if (type == null) throw new FormatException($"{path}: the model has no \"type\"; expected \"BPE\".");
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int CopyToken(ref Utf8JsonReader reader, Span<char> destination, Func<string> where)
    {
        if (reader.TokenType != JsonTokenType.String) throw new FormatException($"{where()}: a token is not a string.");
        if (reader.ValueSpan.Length > destination.Length) throw new FormatException($"{where()}: a token is longer than {destination.Length} bytes.");
        return reader.CopyString(destination);
    }

    private static void ReadAddedTokens(JsonElement array, string path, List<AddedToken> added)
    {
        if (array.ValueKind != JsonValueKind.Array) throw new FormatException($"{path}: added_tokens is not an array.");
        foreach (var t in array.EnumerateArray())
        {
            if (!t.TryGetProperty("id", out var id) || !t.TryGetProperty("content", out var content))
                throw new FormatException($"{path}: an entry of added_tokens lacks \"id\" or \"content\".");
            added.Add(new AddedToken(id.GetInt32(), content.GetString()!, Bool(t, "special"), Bool(t, "lstrip"),
                Bool(t, "rstrip"), Bool(t, "normalized"), Bool(t, "single_word")));
        }
    }

    internal static bool Bool(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    private static void CheckNormalizer(JsonElement n, string path)
    {
        if (n.ValueKind == JsonValueKind.Null) return;
        string? type = n.TryGetProperty("type", out var t) ? t.GetString() : null;
        if (type == "NFC") return;
        if (type == "Sequence" && n.TryGetProperty("normalizers", out var list) && list.GetArrayLength() == 1)
        {
            CheckNormalizer(list[0], path);
            return;
        }
        throw new FormatException($"{path}: the normalizer is {n.GetRawText()}; only NFC (Qwen2's) is supported.");
    }

    private static void CheckPreTokenizer(JsonElement p, string path)
    {
        // Qwen2: Sequence[Split(Regex=Qwen's pattern, Isolated), ByteLevel(use_regex=false, add_prefix_space=false)]
        bool ok = p.ValueKind == JsonValueKind.Object && p.TryGetProperty("type", out var type) && type.GetString() == "Sequence"
            && p.TryGetProperty("pretokenizers", out var list) && list.GetArrayLength() == 2
            && list[0].TryGetProperty("type", out var t0) && t0.GetString() == "Split"
            && list[0].TryGetProperty("pattern", out var pattern) && pattern.TryGetProperty("Regex", out var regex)
            && regex.GetString() == Qwen2PreTokenizer.Pattern
            && list[0].TryGetProperty("behavior", out var behavior) && behavior.GetString() == "Isolated"
            && !Bool(list[0], "invert")
            && list[1].TryGetProperty("type", out var t1) && t1.GetString() == "ByteLevel"
            && !Bool(list[1], "add_prefix_space") && !Bool(list[1], "use_regex");
        if (!ok)
            throw new FormatException($"{path}: the pre_tokenizer is not Qwen2's (a Split on Qwen's regex, then ByteLevel without its own regex); other pre-tokenizers are not supported.");
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string path, bool read = true)
    {
        if (read) reader.Read();
        if (reader.TokenType != type)
            throw new FormatException($"{path}: expected {type} at byte {reader.TokenStartIndex}, found {reader.TokenType}.");
    }
}
