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

    /// <summary>
    /// Reads tokenizer.json (+ tokenizer_config.json for the chat template) from <paramref name="folder"/>, keeping
    /// the ids below <paramref name="vocabSize"/> and the merges whose tokens all survive (a random model with a
    /// smaller vocabulary gets a consistent prefix of the real tokenizer).
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
        if (doc.RootElement.TryGetProperty("added_tokens", out var added))
            foreach (var t in added.EnumerateArray())
            {
                int id = t.GetProperty("id").GetInt32();
                if (id >= vocabSize) continue;
                tokens[id] = t.GetProperty("content").GetString();
                types[id] = t.TryGetProperty("special", out var s) && s.GetBoolean() ? Control : UserDefined;
            }
        for (int i = 0; i < vocabSize; i++)
            if (tokens[i] == null) { tokens[i] = $"[PAD{i}]"; types[i] = Unused; }

        var known = new HashSet<string>(tokens!, StringComparer.Ordinal);
        var merges = new List<string>();
        foreach (var m in model.GetProperty("merges").EnumerateArray())
        {
            // tokenizers writes merges as "a b" (older) or ["a", "b"] (0.20+).
            string left, right;
            if (m.ValueKind == JsonValueKind.Array) { left = m[0].GetString()!; right = m[1].GetString()!; }
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
        string configPath = Path.Combine(folder, "tokenizer_config.json");
        if (File.Exists(configPath))
        {
            using var config = JsonDocument.Parse(File.ReadAllBytes(configPath));
            if (config.RootElement.TryGetProperty("chat_template", out var ct) && ct.ValueKind == JsonValueKind.String)
                template = ct.GetString();
        }
        int? endOfText = Array.IndexOf(tokens, "<|endoftext|>") is >= 0 and var e ? e : null;
        return new GgufTokenizerExport
        {
            Tokens = tokens!,
            TokenTypes = types,
            Merges = merges.ToArray(),
            ChatTemplate = template,
            EosTokenId = eosTokenId is int eos && eos < vocabSize ? eos : endOfText,
            BosTokenId = bosTokenId is int bos && bos < vocabSize ? bos : endOfText,
            PaddingTokenId = endOfText,
        };
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
        if (BosTokenId is int bos) writer.SetUInt32(GgufNames.Keys.BosTokenId, (uint)bos);
        if (EosTokenId is int eos) writer.SetUInt32(GgufNames.Keys.EosTokenId, (uint)eos);
        if (PaddingTokenId is int pad) writer.SetUInt32(GgufNames.Keys.PaddingTokenId, (uint)pad);
        writer.SetBool(GgufNames.Keys.AddBosToken, false);
        if (ChatTemplate != null) writer.SetString(GgufNames.Keys.ChatTemplate, ChatTemplate);
    }

}
