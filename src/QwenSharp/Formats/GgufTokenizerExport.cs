using System.Text.Json;

namespace QwenSharp.Formats;

/// <summary>
/// A Hugging Face byte-level BPE tokenizer as GGUF `tokenizer.ggml.*` metadata, the way llama.cpp's
/// convert_hf_to_gguf.py writes Qwen2's: model "gpt2", pre-tokenizer "qwen2", the vocabulary padded with
/// "[PAD{id}]" tokens of type UNUSED up to the model's vocab_size, added special tokens as CONTROL and other
/// added tokens as USER_DEFINED, merges as "left right" strings, and the chat template.
/// </summary>
public sealed class GgufTokenizerExport
{
    // llama.cpp's token types (llama_token_type).
    public const int Normal = 1, Control = 3, UserDefined = 4, Unused = 5;

    public required string[] Tokens { get; init; }
    public required int[] TokenTypes { get; init; }
    public required string[] Merges { get; init; }
    public string? ChatTemplate { get; init; }
    public int? BosTokenId { get; init; }
    public int? EosTokenId { get; init; }
    public int? PaddingTokenId { get; init; }
    /// <summary>The order the special ids are written in: SpecialVocab's, those named by tokenizer_config.json first
    /// (bos, eos, pad), then those from config.json.</summary>
    public IReadOnlyList<string> SpecialIdOrder { get; init; } = ["bos", "eos", "pad"];
    /// <summary>tokenizer_config.json's add_bos_token; false when it has none (Qwen never adds one).</summary>
    public bool AddBosToken { get; init; }
    /// <summary>tokenizer_config.json's add_eos_token, written only when it has one.</summary>
    public bool? AddEosToken { get; init; }

    /// <summary>
    /// Reads tokenizer.json (+ tokenizer_config.json, chat_template.jinja) from <paramref name="folder"/> as
    /// convert_hf_to_gguf.py's get_vocab_base and gguf-py's SpecialVocab do, keeping the ids below
    /// <paramref name="vocabSize"/> and the merges whose tokens all survive (a random model with a smaller
    /// vocabulary gets a consistent prefix of the real tokenizer). Special ids come from tokenizer_config.json's
    /// bos/eos/pad tokens first, then from config.json's ids (<paramref name="eosTokenId"/>, <paramref name="bosTokenId"/>).
    /// </summary>
    public static GgufTokenizerExport FromHuggingFace(string folder, int vocabSize, int? eosTokenId, int? bosTokenId)
    {
        string path = Path.Combine(folder, "tokenizer.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"No tokenizer.json in {folder}.");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var model = doc.RootElement.GetProperty("model");
        if (model.TryGetProperty("type", out var type) && type.GetString() != "BPE")
            throw new FormatException($"{path}: tokenizer model type {type.GetString()} is not byte-level BPE.");

        var tokens = new string?[vocabSize];
        var types = new int[vocabSize];
        foreach (var entry in model.GetProperty("vocab").EnumerateObject())
        {
            int id = entry.Value.GetInt32();
            if (id < vocabSize) { tokens[id] = entry.Name; types[id] = Normal; }
        }
        var addedIds = new List<(string Content, int Id)>();
        if (doc.RootElement.TryGetProperty("added_tokens", out var added))
            foreach (var t in added.EnumerateArray())
            {
                int id = t.GetProperty("id").GetInt32();
                string content = t.GetProperty("content").GetString()!;
                addedIds.Add((content, id));
                if (id >= vocabSize) continue;
                bool special = t.TryGetProperty("special", out var s) && s.GetBoolean();
                // get_vocab_base: special added tokens, and those that look like control tokens, are CONTROL;
                // the others are USER_DEFINED with SentencePiece's '▁' pre-normalized to a space.
                tokens[id] = special || LooksSpecial(content) ? content : content.Replace('\u2581', ' ');
                types[id] = special || LooksSpecial(content) ? Control : UserDefined;
            }
        for (int i = 0; i < vocabSize; i++)
            if (tokens[i] == null) { tokens[i] = $"[PAD{i}]"; types[i] = Unused; }

        var known = new HashSet<string>(tokens!, StringComparer.Ordinal);
        var merges = new List<string>();
        foreach (var m in model.GetProperty("merges").EnumerateArray())
        {
            // tokenizers writes merges as "a b" (older) or ["a", "b"] (0.20+); SpecialVocab writes a space inside a
            // part of the newer form as U+0120, as the byte-level alphabet spells it.
            string left, right;
            if (m.ValueKind == JsonValueKind.Array)
            {
                left = m[0].GetString()!.Replace(' ', '\u0120');
                right = m[1].GetString()!.Replace(' ', '\u0120');
            }
            else
            {
                string s = m.GetString()!;
                int sp = s.IndexOf(' ', 1);
                left = s[..sp]; right = s[(sp + 1)..];
            }
            if (known.Contains(left) && known.Contains(right) && known.Contains(left + right))
                merges.Add(left + " " + right);
        }

        string? template = null;
        bool? addBos = null, addEos = null;
        int? bos = null, eos = null, pad = null;
        string configPath = Path.Combine(folder, "tokenizer_config.json");
        if (File.Exists(configPath))
        {
            using var config = JsonDocument.Parse(File.ReadAllBytes(configPath));
            var root = config.RootElement;
            if (root.TryGetProperty("chat_template", out var ct) && ct.ValueKind == JsonValueKind.String)
                template = ct.GetString();
            addBos = Bool(root, "add_bos_token");
            addEos = Bool(root, "add_eos_token");
            int? IdOf(string key) => TokenContent(root, key) is { } content && addedIds.FirstOrDefault(a => a.Content == content) is { Content: not null } a
                && a.Id < vocabSize ? a.Id : null;
            bos = IdOf("bos_token");
            eos = IdOf("eos_token");
            pad = IdOf("pad_token");
        }
        string jinja = Path.Combine(folder, "chat_template.jinja");
        if (template == null && File.Exists(jinja)) template = File.ReadAllText(jinja);
        return new GgufTokenizerExport
        {
            Tokens = tokens!,
            TokenTypes = types,
            Merges = merges.ToArray(),
            ChatTemplate = template,
            BosTokenId = bos ?? (bosTokenId is int b && b >= 0 && b < vocabSize ? b : null),
            EosTokenId = eos ?? (eosTokenId is int e && e >= 0 && e < vocabSize ? e : null),
            PaddingTokenId = pad,
            SpecialIdOrder = new[] { ("bos", bos), ("eos", eos), ("pad", pad) }.Where(k => k.Item2 != null)
                .Concat(new[] { ("bos", bos), ("eos", eos), ("pad", pad) }.Where(k => k.Item2 == null)).Select(k => k.Item1).ToArray(),
            AddBosToken = addBos ?? false,
            AddEosToken = addEos,
        };
    }

    /// <summary>convert_hf_to_gguf.py's does_token_look_special for byte-level vocabularies: "&lt;|…|&gt;",
    /// "&lt;｜…｜&gt;", "&lt;unused…&gt;", "&lt;pad&gt;", "&lt;mask&gt;", "&lt;2mass&gt;", "[@BOS@]".</summary>
    public static bool LooksSpecial(string token) =>
        token is "<pad>" or "<mask>" or "<2mass>" or "[@BOS@]"
        || (token.StartsWith("<|", StringComparison.Ordinal) && token.EndsWith("|>", StringComparison.Ordinal))
        || (token.StartsWith("<\uFF5C", StringComparison.Ordinal) && token.EndsWith("\uFF5C>", StringComparison.Ordinal))
        || (token.StartsWith("<unused", StringComparison.Ordinal) && token.EndsWith('>'));

    private static bool? Bool(JsonElement root, string key) =>
        root.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    // A tokenizer_config.json token entry is a string or an object with a "content" string.
    private static string? TokenContent(JsonElement root, string key)
    {
        if (!root.TryGetProperty(key, out var v)) return null;
        if (v.ValueKind == JsonValueKind.String) return v.GetString();
        if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String) return c.GetString();
        return null;
    }

    /// <summary>
    /// A tokenizer of the 256 byte tokens alone (GPT-2's byte-to-unicode alphabet, no merges), padded to
    /// <paramref name="vocabSize"/>, for random models made without a tokenizer. The last id is end-of-text.
    /// </summary>
    public static GgufTokenizerExport BytesOnly(int vocabSize)
    {
        if (vocabSize < 257) throw new ArgumentException($"A byte-level vocabulary needs at least 257 tokens; the config has {vocabSize}.");
        var tokens = new string[vocabSize];
        var types = new int[vocabSize];
        var alphabet = ByteAlphabet();
        for (int b = 0; b < 256; b++) { tokens[b] = alphabet[b].ToString(); types[b] = Normal; }
        for (int i = 256; i < vocabSize - 1; i++) { tokens[i] = $"[PAD{i}]"; types[i] = Unused; }
        tokens[vocabSize - 1] = "<|endoftext|>";
        types[vocabSize - 1] = Control;
        return new GgufTokenizerExport
        {
            Tokens = tokens, TokenTypes = types, Merges = [],
            EosTokenId = vocabSize - 1, BosTokenId = vocabSize - 1, PaddingTokenId = vocabSize - 1,
        };
    }

    /// <summary>GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards.</summary>
    private static char[] ByteAlphabet()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    /// <summary>Writes the `tokenizer.ggml.*` keys and the chat template.</summary>
    public void WriteTo(GgufWriter writer)
    {
        writer.SetString(GgufNames.Keys.TokenizerModel, "gpt2");
        writer.SetString(GgufNames.Keys.TokenizerPre, "qwen2");
        writer.SetArray(GgufNames.Keys.Tokens, GgufArray.Of(Tokens));
        writer.SetArray(GgufNames.Keys.TokenType, GgufArray.Of(TokenTypes));
        writer.SetArray(GgufNames.Keys.Merges, GgufArray.Of(Merges));
        foreach (string kind in SpecialIdOrder)
        {
            var (key, id) = kind switch
            {
                "bos" => (GgufNames.Keys.BosTokenId, BosTokenId),
                "eos" => (GgufNames.Keys.EosTokenId, EosTokenId),
                "pad" => (GgufNames.Keys.PaddingTokenId, PaddingTokenId),
                _ => throw new InvalidOperationException($"Unknown special token kind {kind}."),
            };
            if (id is int value) writer.SetUInt32(key, (uint)value);
        }
        writer.SetBool(GgufNames.Keys.AddBosToken, AddBosToken);
        if (AddEosToken is bool addEos) writer.SetBool(GgufNames.Keys.AddEosToken, addEos);
        if (ChatTemplate != null) writer.SetString(GgufNames.Keys.ChatTemplate, ChatTemplate);
    }

}
