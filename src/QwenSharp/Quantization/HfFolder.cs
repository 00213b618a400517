using System.Text.Json;
using QwenSharp.Formats;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Quantization;

/// <summary>
/// A Hugging Face Qwen2 folder (config.json, tokenizer files, safetensors in f32/f16/bf16, sharded or not) as
/// llama.cpp's convert_hf_to_gguf.py reads it: tensors under their GGUF names in the converter's order (shard files
/// by name, tensors by name within each), and the metadata it writes for them (<see cref="WriteMetadata"/>).
/// </summary>
public sealed class HfFolder : IDisposable
{
    private readonly SafetensorsCheckpoint _checkpoint;
    private readonly string? _nameOrPath;
    private readonly List<(string Key, object Value)> _sampling;

    private HfFolder(string folder, Qwen2Config config, GgufTokenizerExport tokenizer, SafetensorsCheckpoint checkpoint,
        IReadOnlyList<QuantizeTensor> tensors, string? nameOrPath, List<(string, object)> sampling)
    {
        Folder = folder;
        Config = config;
        Tokenizer = tokenizer;
        _checkpoint = checkpoint;
        Tensors = tensors;
        _nameOrPath = nameOrPath;
        _sampling = sampling;
    }

    public string Folder { get; }
    public Qwen2Config Config { get; }
    public GgufTokenizerExport Tokenizer { get; }
    /// <summary>Tensors under their GGUF names, in the order the converter writes them (a MoE layer's expert stacks
    /// where its last expert matrix is read).</summary>
    public IReadOnlyList<QuantizeTensor> Tensors { get; }
    /// <summary>The safetensors files read (an output must not be one of them).</summary>
    public IEnumerable<string> Files => _checkpoint.Files.Select(f => f.Path);
    public long ParameterCount => Tensors.Sum(t => t.Rows * t.Columns);

    public static HfFolder Open(string folder)
    {
        string configPath = Path.Combine(folder, "config.json");
        if (!File.Exists(configPath))
            throw new FileNotFoundException($"{folder} has no config.json; give a Hugging Face model folder (config.json, tokenizer.json, safetensors).");
        var config = Qwen2Config.FromFile(configPath);
        config.Validate();
        var tokenizer = GgufTokenizerExport.FromHuggingFace(folder, config.VocabSize, config.EosTokenId, config.BosTokenId);
        string? nameOrPath;
        using (var doc = JsonDocument.Parse(File.ReadAllBytes(configPath)))
            nameOrPath = doc.RootElement.TryGetProperty("_name_or_path", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        var sampling = Sampling(Path.Combine(folder, "generation_config.json"));

        var checkpoint = SafetensorsCheckpoint.Open(folder);
        try
        {
            var tensors = new List<QuantizeTensor>();
            var experts = new Dictionary<int, Dictionary<string, TensorView?[]>>();
            foreach (var file in checkpoint.Files.OrderBy(f => Path.GetFileName(f.Path), StringComparer.Ordinal))
                foreach (string hfName in file.TensorNames.Order(StringComparer.Ordinal))
                {
                    // Buffers the converter drops, and lm_head of a tied checkpoint that still stores it.
                    if (hfName.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal) || hfName.EndsWith(".attention.masked_bias", StringComparison.Ordinal)
                        || hfName.EndsWith(".attention.bias", StringComparison.Ordinal)) continue;
                    if (config.TieWordEmbeddings && hfName == "lm_head.weight") continue;
                    var view = checkpoint.Get(hfName);
                    if (GgufNames.TryExpertMatrix(hfName, out string stack, out int expert))
                    {
                        AddExpert(folder, config, experts, tensors, hfName, stack, expert, view);
                        continue;
                    }
                    if (!GgufNames.TryToGguf(hfName, out string ggufName))
                        throw new FormatException($"{folder}: tensor {hfName} is not one of a Qwen2 model's tensors.");
                    // The shared expert's gate is a [1, hidden] linear in transformers and a vector in llama.cpp.
                    var shape = view.Shape is [1, long hidden] && hfName.EndsWith(".shared_expert_gate.weight", StringComparison.Ordinal) ? [hidden] : view.Shape;
                    tensors.Add(new QuantizeTensor(ggufName, view.Type, shape, [view]));
                }
            foreach (var (layer, stacks) in experts)
                foreach (var (stack, members) in stacks)
                    throw new FormatException($"{folder}: {stack} lacks expert {Array.IndexOf(members, null)} (no tensor for it among the safetensors).");
            return new HfFolder(folder, config, tokenizer, checkpoint, tensors, nameOrPath, sampling);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Collects one expert matrix; when a layer has all of them (num_experts × 3), adds its three stacks in the order
    /// Qwen2MoeModel.modify_tensors yields them (down, gate, up), each [n_expert, rows, cols] with one view per expert.
    /// </summary>
    private static void AddExpert(string folder, Qwen2Config config, Dictionary<int, Dictionary<string, TensorView?[]>> experts,
        List<QuantizeTensor> tensors, string hfName, string stack, int expert, TensorView view)
    {
        int count = config.NumExperts ?? 0;
        if (expert >= count)
            throw new FormatException($"{folder}: tensor {hfName} is expert {expert}, but num_experts is {count}.");
        int layer = int.Parse(stack.AsSpan(4, stack.IndexOf('.', 4) - 4), System.Globalization.CultureInfo.InvariantCulture);
        if (!experts.TryGetValue(layer, out var stacks)) experts[layer] = stacks = new Dictionary<string, TensorView?[]>(StringComparer.Ordinal);
        if (!stacks.TryGetValue(stack, out var members)) stacks[stack] = members = new TensorView?[count];
        members[expert] = view;
        if (stacks.Count < 3 || stacks.Values.Any(m => m.Contains(null))) return;
        foreach (var (name, parts) in stacks.OrderBy(kv => kv.Key, StringComparer.Ordinal)) // ffn_down_exps, ffn_gate_exps, ffn_up_exps
        {
            var first = parts[0]!;
            if (parts.Any(m => m!.Type != first.Type || !m.Shape.SequenceEqual(first.Shape)))
                throw new FormatException($"{folder}: the experts stacked into {name} differ in type or shape.");
            tensors.Add(new QuantizeTensor(name, first.Type, [parts.Length, .. first.Shape], parts!));
        }
        experts.Remove(layer);
    }

    /// <summary>
    /// The file type convert_hf_to_gguf.py's --outtype auto picks: the type of the first matrix stored as bf16 or
    /// f16 (f32 matrices are passed over), and f16 when there is none.
    /// </summary>
    public QuantizeFileType GuessedFileType =>
        Tensors.Where(t => t.Shape.Length >= 2).Select(t => t.Type).FirstOrDefault(t => t is GgmlType.BF16 or GgmlType.F16) == GgmlType.BF16
            ? QuantizeFileType.BF16 : QuantizeFileType.F16;

    /// <summary>
    /// The metadata in the converter's order: general.architecture, general.type, the sampling defaults of
    /// generation_config.json, the name components (<see cref="HfModelName"/>), the qwen2.* hyper-parameters and
    /// general.file_type, general.quantization_version, then the tokenizer.
    /// </summary>
    public void WriteMetadata(GgufWriter writer, QuantizeFileType fileType)
    {
        writer.SetString(GgufNames.Keys.GeneralArchitecture, GgufNames.ArchitectureOf(Config));
        writer.SetString(GgufNames.Keys.GeneralType, "model");
        foreach (var (key, value) in _sampling) writer.Set(key, value);
        WriteAuthorship(writer);
        GgufNames.WriteConfig(Config, writer);
        writer.SetUInt32(GgufNames.Keys.GeneralFileType, (uint)fileType);
        writer.SetUInt32(GgufNames.Keys.GeneralQuantizationVersion, GgufQuantizer.QuantizationVersion);
        Tokenizer.WriteTo(writer);
    }

    /// <summary>
    /// set_gguf_meta_model's keys, each from the model card first (<see cref="HfModelCard"/>), then from config.json's
    /// _name_or_path and the folder's name (<see cref="HfModelName.ForFolder"/>).
    /// </summary>
    private void WriteAuthorship(GgufWriter writer)
    {
        var card = HfModelCard.Read(Folder);
        long count = ParameterCount;
        var id = HfModelName.ForFolder(Folder, _nameOrPath, count);
        void Put(string key, string? value) { if (value != null) writer.SetString(key, value); }
        Put(GgufNames.Keys.GeneralName, card.Get("name", "model_name") ?? id.Name);
        Put("general.author", card.Get("author", "model_author", "model_creator"));
        Put(GgufNames.Keys.GeneralVersion, card.Get("version", "model_version") ?? id.Version);
        Put(GgufNames.Keys.GeneralOrganization, card.Get("organization", "model_organization") ?? id.Organization);
        Put(GgufNames.Keys.GeneralFinetune, card.Get("finetune", "model_finetune") ?? id.Finetune);
        Put(GgufNames.Keys.GeneralBasename, card.Get("basename", "model_basename", "model_type") ?? id.Basename);
        Put("general.description", card.Get("description", "model_description"));
        Put(GgufNames.Keys.GeneralSizeLabel, card.Get("size_label", "model_size_label") ?? id.SizeLabel);
        Put("general.license", card.License);
        Put("general.license.name", card.Get("license_name"));
        Put("general.license.link", card.Get("license_link"));
        Put("general.source.url", card.Get("url", "model_url"));
        Put("general.source.doi", card.Get("doi", "model_doi"));
        Put("general.source.uuid", card.Get("uuid", "model_uuid"));
        Put("general.source.repo_url", card.Get("repo_url", "model_repo_url"));
        foreach (var (kind, present, sources) in new[] { ("base_model", card.HasBaseModels, card.BaseModels(count)), ("dataset", card.HasDatasets, card.Datasets(count)) })
        {
            if (!present) continue;
            writer.SetUInt32($"general.{kind}.count", (uint)sources.Count);
            for (int i = 0; i < sources.Count; i++)
            {
                Put($"general.{kind}.{i}.name", sources[i].Name);
                Put($"general.{kind}.{i}.version", sources[i].Version);
                Put($"general.{kind}.{i}.organization", sources[i].Organization);
                Put($"general.{kind}.{i}.repo_url", sources[i].RepoUrl);
            }
        }
        if (card.Tags is { } tags) writer.SetArray("general.tags", GgufArray.Of(tags.ToArray()));
        if (card.Languages is { } languages) writer.SetArray("general.languages", GgufArray.Of(languages.ToArray()));
    }

    /// <summary>gguf-py's Metadata.load: generation_config.json's top_k, top_p, min_p and temperature as
    /// general.sampling.* (an unreadable file is skipped, as there).</summary>
    private static List<(string, object)> Sampling(string path)
    {
        var keys = new List<(string, object)>();
        if (!File.Exists(path)) return keys;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return keys;
            var root = doc.RootElement;
            if (root.TryGetProperty("top_k", out var k) && k.TryGetInt32(out int topK)) keys.Add(("general.sampling.top_k", topK));
            if (root.TryGetProperty("top_p", out var p) && p.ValueKind == JsonValueKind.Number) keys.Add(("general.sampling.top_p", p.GetSingle()));
            if (root.TryGetProperty("min_p", out var m) && m.ValueKind == JsonValueKind.Number) keys.Add(("general.sampling.min_p", m.GetSingle()));
            if (root.TryGetProperty("temperature", out var t) && t.ValueKind == JsonValueKind.Number) keys.Add(("general.sampling.temp", t.GetSingle()));
        }
        catch (JsonException)
        {
        }
        return keys;
    }

    public void Dispose() => _checkpoint.Dispose();
}
