using System.Net.Http.Headers;
using System.Text.Json;

namespace QwenSharp.Hub;

/// <summary>
/// Fetches a model from Ollama's registry into Ollama's store the way `ollama pull` leaves it, so Ollama and
/// QwenSharp share it: the registry speaks the OCI distribution API,
/// `GET /v2/{namespace}/{model}/manifests/{tag}` (a Docker v2 manifest) and `GET /v2/{namespace}/{model}/blobs/{digest}`
/// (redirected to a CDN); blobs are stored as blobs/sha256-&lt;hex&gt;, verified against their digest, and the
/// manifest last, so a manifest never names a missing blob. Only the model, template, params and system
/// layers are fetched (license texts and others are skipped, which Ollama tolerates when reading).
/// </summary>
public static class OllamaRegistry
{
    private static readonly HashSet<string> Wanted =
        [OllamaStore.ModelLayer, OllamaStore.TemplateLayer, OllamaStore.ParamsLayer, OllamaStore.SystemLayer];

    /// <summary>The pulled model, or null when the registry does not know the name (404).</summary>
    public static async Task<LocatedModel?> PullAsync(OllamaName name, string store, HubOptions options,
        IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        var client = HubHttp.ClientFor(options);
        string baseUrl = $"{options.OllamaRegistryEndpoint}/v2/{name.Namespace}/{name.Model}";
        var manifestUrl = new Uri($"{baseUrl}/manifests/{Uri.EscapeDataString(name.Tag)}");
        byte[] manifest;
        using (var response = await HubHttp.SendAsync(client, HttpMethod.Get, manifestUrl, null, crossHost: true, ct,
                   r => r.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.docker.distribution.manifest.v2+json"))).ConfigureAwait(false))
        {
            if ((int)response.StatusCode == 404) return null;
            if (!response.IsSuccessStatusCode)
                throw new HubException($"Ollama's registry answered HTTP {(int)response.StatusCode} for {name}; try again later.");
            manifest = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
        }

        var layers = new List<(string MediaType, string Digest, long Size)>();
        try
        {
            using var doc = JsonDocument.Parse(manifest);
            foreach (var l in doc.RootElement.GetProperty("layers").EnumerateArray())
                layers.Add((l.GetProperty("mediaType").GetString() ?? "", l.GetProperty("digest").GetString() ?? "", l.GetProperty("size").GetInt64()));
            if (doc.RootElement.TryGetProperty("config", out var config))
                layers.Add(("config", config.GetProperty("digest").GetString() ?? "", config.GetProperty("size").GetInt64()));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new HubException($"Ollama's registry sent a manifest for {name} that is not a Docker v2 manifest ({e.Message}).", e);
        }

        var fetched = layers.Where(l => Wanted.Contains(l.MediaType) || l.MediaType == "config").ToList();
        // Each digest names a blob file: all are checked before the first is written.
        foreach (var layer in fetched)
            CacheNames.Sha256Digest(layer.Digest, "the layer digest", $"in the manifest of {name} from {options.OllamaRegistryEndpoint}");
        foreach (var (mediaType, digest, size) in fetched)
        {
            string blob = Path.Combine(store, "blobs", digest.Replace(':', '-'));
            if (File.Exists(blob) && new FileInfo(blob).Length == size) continue;
            string label = mediaType == OllamaStore.ModelLayer ? $"{name} (model)" : $"{name} ({mediaType.Split('.')[^1]})";
            await FileTransfer.DownloadAsync(client, new Uri($"{baseUrl}/blobs/{digest}"), null, label, blob + ".incomplete", blob,
                new ExpectedContent(size, digest[7..], null), options, mediaType == OllamaStore.ModelLayer ? progress : null, ct).ConfigureAwait(false);
        }

        string manifestPath = Path.Combine(store, "manifests", name.ManifestRelativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(manifestPath)!);
        string tmp = manifestPath + ".incomplete";
        await File.WriteAllBytesAsync(tmp, manifest, ct).ConfigureAwait(false);
        File.Move(tmp, manifestPath, overwrite: true);

        var located = OllamaStore.TryLocate(name, [store], [])
            ?? throw new HubException($"The Ollama manifest just written at {manifestPath} could not be read back.");
        return located with { Downloaded = true };
    }
}
