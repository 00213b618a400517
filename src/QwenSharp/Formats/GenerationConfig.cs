using System.Text.Json;

namespace QwenSharp.Formats;

/// <summary>
/// The sampling defaults a Hugging Face checkpoint ships in <c>generation_config.json</c>
/// (transformers' <c>GenerationConfig</c>). Every value is optional: null means the file does not set it.
/// Keys this runtime does not use (transformers_version, …) are ignored, as transformers ignores unknown keys.
/// </summary>
public sealed record GenerationConfig
{
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? TopK { get; init; }
    public double? MinP { get; init; }
    public double? RepetitionPenalty { get; init; }
    public bool? DoSample { get; init; }
    /// <summary>End-of-sequence ids; the file may hold one integer or a list (Qwen2-Instruct: [151645, 151643]).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public int? BosTokenId { get; init; }
    public int? PadTokenId { get; init; }
    public int? MaxNewTokens { get; init; }
    /// <summary>Prompt plus output length limit in transformers; read for reporting, vLLM does not use it.</summary>
    public int? MaxLength { get; init; }

    /// <summary>Reads a generation_config.json file; malformed content throws <see cref="FormatException"/> naming the file.</summary>
    public static GenerationConfig Load(string path)
    {
        string json;
        try { json = File.ReadAllText(path); }
        catch (IOException e) { throw new FormatException($"Cannot read generation config {path}: {e.Message}", e); }
        return Parse(json, path);
    }

    /// <summary>The generation_config.json of a model folder, or null when the folder has none (transformers then uses its defaults).</summary>
    public static GenerationConfig? FromModelFolder(string folder)
    {
        string path = Path.Combine(folder, "generation_config.json");
        return File.Exists(path) ? Load(path) : null;
    }

    /// <summary>Parses generation_config.json text; <paramref name="source"/> names it in error messages.</summary>
    public static GenerationConfig Parse(string json, string source)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new FormatException($"{source} is not valid JSON: {e.Message}", e); }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new FormatException($"{source} must hold a JSON object, but holds {root.ValueKind}.");
            var reader = new FieldReader(root, source);
            return new GenerationConfig
            {
                Temperature = reader.Double("temperature"),
                TopP = reader.Double("top_p"),
                TopK = reader.Int("top_k"),
                MinP = reader.Double("min_p"),
                RepetitionPenalty = reader.Double("repetition_penalty"),
                DoSample = reader.Bool("do_sample"),
                EosTokenIds = reader.IntOrList("eos_token_id"),
                BosTokenId = reader.Int("bos_token_id"),
                PadTokenId = reader.Int("pad_token_id"),
                MaxNewTokens = reader.Int("max_new_tokens"),
                MaxLength = reader.Int("max_length"),
            };
        }
    }

    /// <summary>Typed access to one optional key, with messages that name the file, the key and the value found.</summary>
    private readonly struct FieldReader(JsonElement root, string source)
    {
        private bool TryGet(string key, out JsonElement value) =>
            root.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null;

        private FormatException Wrong(string key, JsonElement value, string expected) =>
            new($"{source}: \"{key}\" must be {expected}, but is {value.GetRawText()}.");

        public double? Double(string key)
        {
            if (!TryGet(key, out var v)) return null;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d)) throw Wrong(key, v, "a number");
            return d;
        }

        public int? Int(string key)
        {
            if (!TryGet(key, out var v)) return null;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i)) throw Wrong(key, v, "an integer");
            return i;
        }

        public bool? Bool(string key)
        {
            if (!TryGet(key, out var v)) return null;
            return v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Wrong(key, v, "true or false"),
            };
        }

        public IReadOnlyList<int> IntOrList(string key)
        {
            if (!TryGet(key, out var v)) return [];
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int single)) return [single];
            if (v.ValueKind != JsonValueKind.Array) throw Wrong(key, v, "an integer or a list of integers");
            var ids = new List<int>(v.GetArrayLength());
            foreach (var item in v.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int id)) throw Wrong(key, v, "an integer or a list of integers");
                ids.Add(id);
            }
            return ids;
        }
    }
}
