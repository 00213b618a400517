using System.Text;
using System.Text.Json;
using QwenSharp.Formats;

namespace QwenSharp.Text;

/// <summary>
/// Reads a Hugging Face tokenizer.json of Qwen2's kind and refuses, with the reason, any other: a model type
/// other than BPE, byte fallback, a subword prefix, a normalizer other than NFC, a pre-tokenizer other than
/// Qwen's regex split + ByteLevel. The 11 MB model section (vocabulary and merges) is read from the mapped file
/// by <see cref="BpeModelSection"/> as UTF-8; the small sections go through System.Text.Json.
/// </summary>
internal static class TokenizerJsonReader
{
    public static Qwen2Tokenizer Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Tokenizer file {path} does not exist.", path);
        using var file = MappedFile.Open(path); // no copy onto the heap: a fresh 11 MB array costs ~40 ms of page faults
        if (file.Length > int.MaxValue) throw new FormatException($"{path} is {file.Length} bytes; a tokenizer.json is at most 2 GB.");
        return Read(file.Span(0, (int)file.Length), path);
    }

    private static Qwen2Tokenizer Read(ReadOnlySpan<byte> data, string path)
    {
        if (!System.Text.Unicode.Utf8.IsValid(data)) throw new FormatException($"{path} is not UTF-8 text, so it is not a tokenizer.json.");
        // Qwen2's file has 151k tokens in 11 MB; making room for the tokens at once saves rehashing, and the
        // 2^18 cap keeps a huge file from reserving more than a few MB before it shows what it holds.
        var model = new BpeModelSection(path, Math.Min(data.Length / 64, 1 << 18));
        var added = new List<AddedToken>();
        bool sawModel = false;
        var json = new JsonByteScanner(data, path);
        json.Expect((byte)'{');
        Span<byte> scratch = new byte[1024]; // not stackalloc: the scanner, a ref struct passed by ref, could hold on to it
        if (!json.TryConsume((byte)'}'))
        {
            do
            {
                string name = Encoding.UTF8.GetString(json.ReadString(scratch));
                json.Expect((byte)':');
                switch (name)
                {
                    case "model":
                        model.Read(ref json);
                        sawModel = true;
                        break;
                    case "added_tokens":
                        using (var doc = json.ParseValue()) ReadAddedTokens(doc.RootElement, path, added);
                        break;
                    case "normalizer":
                        using (var doc = json.ParseValue()) CheckNormalizer(doc.RootElement, path);
                        break;
                    case "pre_tokenizer":
                        using (var doc = json.ParseValue()) CheckPreTokenizer(doc.RootElement, path);
                        break;
                    default:
                        json.ParseValue().Dispose(); // validated, not used
                        break;
                }
            } while (json.NextMember((byte)'}'));
        }
        if (json.Peek() != -1) throw json.Fail("text after the closing brace");
        if (!sawModel) throw new FormatException($"{path} has no \"model\" section, so it is not a Hugging Face tokenizer.json.");
        return new Qwen2Tokenizer(model.Vocabulary(), model.Merges(), added, path);
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
}
