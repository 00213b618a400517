namespace QwenSharp.Quantization;

/// <summary>
/// The authorship metadata llama.cpp's converter takes from a folder's README.md front matter (gguf-py's
/// Metadata.load_model_card and apply_metadata_heuristic): name components, license, source links, base models and
/// datasets (a Hugging Face id or URL gives name, organization, version and repo URL), tags (with the pipeline tag)
/// and languages. The front matter is read as the plain YAML model cards use: "key: value" lines and "- item" lists;
/// nested mappings are passed over.
/// </summary>
public sealed class HfModelCard
{
    private readonly Dictionary<string, object> _values;

    private HfModelCard(Dictionary<string, object> values) => _values = values;

    public static HfModelCard Empty { get; } = new(new Dictionary<string, object>(StringComparer.Ordinal));

    /// <summary>The card of <paramref name="folder"/>; empty without a README.md that opens with front matter.</summary>
    public static HfModelCard Read(string folder)
    {
        string path = Path.Combine(folder, "README.md");
        if (!File.Exists(path)) return Empty;
        var lines = File.ReadAllText(path).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        if (lines.Count == 0 || lines[0] != "---") return Empty;
        var values = new Dictionary<string, object>(StringComparer.Ordinal);
        string? listKey = null;
        foreach (string raw in lines.Skip(1))
        {
            if (raw == "---") break;
            // load_model_card: tabs read as two spaces.
            string line = raw.Replace("\t", "  ");
            if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#')) continue;
            string trimmed = line.TrimStart();
            if (trimmed.StartsWith("- ", StringComparison.Ordinal) || trimmed == "-")
            {
                if (listKey != null && values[listKey] is List<string> items && Scalar(trimmed[1..].Trim()) is { } item) items.Add(item);
                continue;
            }
            if (line.Length > 0 && line[0] == ' ') continue; // a nested mapping's line
            listKey = null;
            int colon = line.IndexOf(':');
            if (colon <= 0) continue;
            string key = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            if (value.Length == 0) { values[key] = new List<string>(); listKey = key; }
            else if (value.StartsWith('[') && value.EndsWith(']'))
                values[key] = value[1..^1].Split(',').Select(v => Scalar(v.Trim())).OfType<string>().ToList();
            else if (Scalar(value) is { } scalar) values[key] = scalar;
        }
        return new HfModelCard(values);
    }

    // A plain or quoted YAML scalar; null and ~ are none.
    private static string? Scalar(string value)
    {
        if (value.Length >= 2 && (value[0] == '"' && value[^1] == '"' || value[0] == '\'' && value[^1] == '\'')) return value[1..^1];
        return value is "" or "null" or "~" ? null : value;
    }

    /// <summary>The first of <paramref name="keys"/> the card has as a single value.</summary>
    public string? Get(params string[] keys)
    {
        foreach (string key in keys)
            if (_values.TryGetValue(key, out var v) && v is string s) return s;
        return null;
    }

    /// <summary>The first of <paramref name="keys"/> the card has, as a list (a single value is a list of one).</summary>
    public List<string>? GetList(params string[] keys)
    {
        foreach (string key in keys)
            if (_values.TryGetValue(key, out var v)) return v is string s ? [s] : [.. (List<string>)v];
        return null;
    }

    /// <summary>The license, a list joined with commas as set_gguf_meta_model joins it.</summary>
    public string? License => GetList("license") is { } l ? string.Join(",", l) : null;

    /// <summary>tags, then the pipeline tag appended (use_array_model_card_metadata).</summary>
    public List<string>? Tags => Concat(GetList("tags"), GetList("pipeline_tag"));

    /// <summary>languages, then language appended.</summary>
    public List<string>? Languages => Concat(GetList("languages"), GetList("language"));

    public IReadOnlyList<Source> BaseModels(long totalParams) =>
        (GetList("base_model", "base_models", "base_model_sources") ?? []).Select(id => Source.Of(id, totalParams)).ToList();

    public IReadOnlyList<Source> Datasets(long totalParams) =>
        (GetList("datasets", "dataset", "dataset_sources") ?? []).Select(id => Source.Of(id, totalParams)).ToList();

    public bool HasBaseModels => GetList("base_model", "base_models", "base_model_sources") != null;
    public bool HasDatasets => GetList("datasets", "dataset", "dataset_sources") != null;

    private static List<string>? Concat(List<string>? a, List<string>? b) => a == null && b == null ? null : [.. a ?? [], .. b ?? []];

    /// <summary>A base model or dataset named by a Hugging Face id ("Qwen/Qwen2.5-0.5B") or a URL.</summary>
    public sealed record Source(string? Name, string? Organization, string? Version, string? RepoUrl)
    {
        public static Source Of(string id, long totalParams)
        {
            if (id.StartsWith("http://", StringComparison.Ordinal) || id.StartsWith("https://", StringComparison.Ordinal) || id.StartsWith("ssh://", StringComparison.Ordinal))
            {
                var match = System.Text.RegularExpressions.Regex.Match(id, @"^https?://huggingface.co/([^/]+/[^/]+)$");
                if (!id.Contains("huggingface.co") || !match.Success) return new Source(null, null, null, id);
                var fromUrl = HfModelName.Parse(match.Groups[1].Value, totalParams);
                return new Source(HfModelName.Title(fromUrl.Name), fromUrl.Organization == null ? null : HfModelName.Title(fromUrl.Organization), fromUrl.Version, id);
            }
            var c = HfModelName.Parse(id, totalParams);
            return new Source(HfModelName.Title(c.Name), c.Organization == null ? null : HfModelName.Title(c.Organization), c.Version,
                c.Organization != null ? $"https://huggingface.co/{c.Organization}/{c.Name}" : null);
        }
    }
}
