using System.Text.Json;
using QwenSharp.Tensors;

namespace QwenSharp.Formats;

/// <summary>
/// The weights of a Hugging Face folder: <c>model.safetensors</c>, or the shards that
/// <c>model.safetensors.index.json</c> lists in its <c>weight_map</c> (tensor name → shard file), all mapped.
/// The index and the shards must agree exactly: a tensor the index places in a shard that lacks it, a shard
/// tensor the index does not list, a tensor in two files, or a missing shard is an error naming file and tensor.
/// </summary>
public sealed class SafetensorsCheckpoint : IWeightSource
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, TensorView> _tensors;

    private SafetensorsCheckpoint(string origin, List<SafetensorsFile> files, Dictionary<string, TensorView> tensors)
    {
        Origin = origin;
        _files = files;
        _tensors = tensors;
    }

    /// <summary>The folder (or single file) the weights come from.</summary>
    public string Origin { get; }
    public IReadOnlyList<SafetensorsFile> Files => _files;
    public IReadOnlyCollection<string> TensorNames => _tensors.Keys;
    public bool Contains(string name) => _tensors.ContainsKey(name);

    public TensorView Get(string name) =>
        _tensors.TryGetValue(name, out var view) ? view : throw new FormatException($"{Origin} has no tensor {name}.");

    /// <summary>Opens a model folder (single file or sharded), or one .safetensors file given directly.</summary>
    public static SafetensorsCheckpoint Open(string folderOrFile)
    {
        if (File.Exists(folderOrFile))
            return FromFiles(folderOrFile, [folderOrFile], index: null);
        if (!Directory.Exists(folderOrFile))
            throw new FormatException($"{folderOrFile} is neither a folder nor a .safetensors file.");

        string indexPath = Path.Combine(folderOrFile, IndexFileName);
        if (File.Exists(indexPath))
        {
            var index = ReadIndex(indexPath);
            var shards = index.Values.Distinct(StringComparer.Ordinal).Select(f => Path.Combine(folderOrFile, f)).ToList();
            foreach (string shard in shards)
                if (!File.Exists(shard))
                    throw new FormatException($"{indexPath} places tensor {index.First(kv => Path.Combine(folderOrFile, kv.Value) == shard).Key} in {shard}, which does not exist.");
            return FromFiles(folderOrFile, shards, index.ToDictionary(kv => kv.Key, kv => Path.Combine(folderOrFile, kv.Value), StringComparer.Ordinal));
        }

        string single = Path.Combine(folderOrFile, SingleFileName);
        if (File.Exists(single))
            return FromFiles(folderOrFile, [single], index: null);
        throw new FormatException($"{folderOrFile} has neither {SingleFileName} nor {IndexFileName}.");
    }

    /// <summary>The index's weight_map: tensor name → shard file name (relative to the folder).</summary>
    internal static Dictionary<string, string> ReadIndex(string indexPath)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
        }
        catch (JsonException e)
        {
            throw new FormatException($"{indexPath} is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new FormatException($"{indexPath} has no weight_map object.");
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var kv in map.EnumerateObject())
            {
                if (kv.Value.ValueKind != JsonValueKind.String)
                    throw new FormatException($"{indexPath}: tensor {kv.Name} maps to a JSON {kv.Value.ValueKind}, not a shard file name.");
                string shard = kv.Value.GetString()!;
                // A shard is a plain file name next to the index; a path could reach outside the model folder.
                if (shard.Length == 0 || shard != Path.GetFileName(shard) || shard is "." or "..")
                    throw new FormatException($"{indexPath}: tensor {kv.Name} maps to \"{shard}\", not a file name in the same folder.");
                if (!result.TryAdd(kv.Name, shard))
                    throw new FormatException($"{indexPath} lists tensor {kv.Name} twice in its weight_map.");
            }
            if (result.Count == 0)
                throw new FormatException($"{indexPath} has an empty weight_map.");
            return result;
        }
    }

    private static SafetensorsCheckpoint FromFiles(string origin, List<string> paths, Dictionary<string, string>? index)
    {
        var files = new List<SafetensorsFile>();
        try
        {
            var tensors = new Dictionary<string, TensorView>(StringComparer.Ordinal);
            var owner = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string path in paths)
            {
                var file = SafetensorsFile.Open(path);
                files.Add(file);
                foreach (var view in file.Tensors)
                {
                    if (owner.TryGetValue(view.Name, out string? other))
                        throw new FormatException($"Tensor {view.Name} appears in both {other} and {path}.");
                    if (index != null && (!index.TryGetValue(view.Name, out string? place) || place != path))
                        throw new FormatException(place != null
                            ? $"{path} holds tensor {view.Name}, which the index places in {place}."
                            : $"{path} holds tensor {view.Name}, which the index does not list.");
                    owner[view.Name] = path;
                    tensors[view.Name] = view;
                }
            }

            if (index != null)
                foreach (var (name, shard) in index)
                    if (!tensors.ContainsKey(name))
                        throw new FormatException($"The index of {origin} places tensor {name} in {shard}, which does not contain it.");

            return new SafetensorsCheckpoint(origin, files, tensors);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }

    public override string ToString() => Origin;
}
