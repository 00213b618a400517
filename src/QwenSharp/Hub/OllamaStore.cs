using System.Text.Json;

namespace QwenSharp.Hub;

/// <summary>What an Ollama manifest says besides the weights: its Go text/template prompt template, its
/// parameters (JSON such as {"stop": [...], "temperature": 0.7}) and its system prompt, each as stored.</summary>
public sealed record OllamaModelInfo(string ManifestPath, string? Template, string? Parameters, string? System);

/// <summary>
/// Reads Ollama's model store in place: `manifests/&lt;host&gt;/&lt;namespace&gt;/&lt;model&gt;/&lt;tag&gt;` is an OCI-style JSON
/// manifest whose layer of mediaType `application/vnd.ollama.image.model` is the GGUF, stored as
/// `blobs/sha256-&lt;hex&gt;` and opened from there (no copy). <see cref="OllamaRegistry"/> fills the store.
/// </summary>
public static class OllamaStore
{
    public const string ModelLayer = "application/vnd.ollama.image.model";
    public const string TemplateLayer = "application/vnd.ollama.image.template";
    public const string ParamsLayer = "application/vnd.ollama.image.params";
    public const string SystemLayer = "application/vnd.ollama.image.system";

    /// <summary>The model in the first store that has it, or null; <paramref name="looked"/> gets each manifest
    /// path tried, for the error message.</summary>
    public static LocatedModel? TryLocate(OllamaName name, IReadOnlyList<string> storeDirs, List<string> looked)
    {
        foreach (string store in storeDirs)
        {
            string manifest = Path.Combine(store, "manifests", name.ManifestRelativePath);
            looked.Add(manifest);
            string? found = File.Exists(manifest) ? manifest : FindIgnoringCase(Path.Combine(store, "manifests"), name);
            if (found != null) return Read(name, store, found);
        }
        return null;
    }

    private static LocatedModel Read(OllamaName name, string store, string manifestPath)
    {
        var layers = new List<(string MediaType, string Digest, long Size)>();
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(manifestPath));
            if (doc.RootElement.TryGetProperty("layers", out var arr) && arr.ValueKind == JsonValueKind.Array)
                foreach (var l in arr.EnumerateArray())
                    layers.Add((l.TryGetProperty("mediaType", out var m) ? m.GetString() ?? "" : "",
                        l.TryGetProperty("digest", out var d) ? d.GetString() ?? "" : "",
                        l.TryGetProperty("size", out var s) && s.TryGetInt64(out long n) ? n : -1));
        }
        catch (JsonException e)
        {
            throw new HubException($"The Ollama manifest {manifestPath} is not valid JSON ({e.Message}); run 'ollama pull {name}' to repair it.", e);
        }

        var models = layers.Where(l => l.MediaType == ModelLayer).ToList();
        if (models.Count != 1)
            throw new HubException($"The Ollama manifest {manifestPath} has {models.Count} model layers where one was expected; QwenSharp reads single-GGUF models only.");
        string blob = BlobPath(store, models[0].Digest, manifestPath);
        if (!File.Exists(blob))
            throw new HubException($"Ollama's manifest for {name} names the blob {blob}, which is missing; run 'ollama pull {name}' to fetch it again.");
        long length = new FileInfo(blob).Length;
        if (models[0].Size >= 0 && length != models[0].Size)
            throw new HubException($"Ollama's blob {blob} for {name} has {length} bytes where the manifest says {models[0].Size}; run 'ollama pull {name}' to repair it.");
        if (!StartsWithGguf(blob))
            throw new HubException($"Ollama's model blob {blob} for {name} is not a GGUF file (no 'GGUF' magic), so QwenSharp cannot read it.");

        string? Text(string mediaType) =>
            layers.Where(l => l.MediaType == mediaType).Select(l => BlobPath(store, l.Digest, manifestPath))
                .Where(File.Exists).Select(File.ReadAllText).LastOrDefault();

        return new LocatedModel
        {
            Path = blob,
            IsGguf = true,
            Source = ModelSource.Ollama,
            Name = name.ToString(),
            Revision = name.Tag,
            Ollama = new OllamaModelInfo(manifestPath, Text(TemplateLayer), Text(ParamsLayer), Text(SystemLayer)),
        };
    }

    /// <summary>"sha256:&lt;hex&gt;" is stored as blobs/sha256-&lt;hex&gt; (the ':' is not allowed in Windows names).</summary>
    private static string BlobPath(string store, string digest, string manifestPath)
    {
        CacheNames.Sha256Digest(digest, "the layer digest", $"in the Ollama manifest {manifestPath}");
        return Path.Combine(store, "blobs", digest.Replace(':', '-'));
    }

    private static bool StartsWithGguf(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using var f = File.OpenRead(path);
        return f.Read(magic) == 4 && magic.SequenceEqual("GGUF"u8);
    }

    /// <summary>Ollama matches names case-insensitively (its model names are lower-case on disk, users type
    /// "Qwen2:7B"); on a case-sensitive file system that needs a walk down the manifest folders.</summary>
    private static string? FindIgnoringCase(string manifests, OllamaName name)
    {
        string current = manifests;
        foreach (string part in new[] { name.Host, name.Namespace, name.Model, name.Tag })
        {
            if (!Directory.Exists(current)) return null;
            string? match = Directory.EnumerateFileSystemEntries(current)
                .FirstOrDefault(e => string.Equals(Path.GetFileName(e), part, StringComparison.OrdinalIgnoreCase));
            if (match == null) return null;
            current = match;
        }
        return File.Exists(current) ? current : null;
    }
}
