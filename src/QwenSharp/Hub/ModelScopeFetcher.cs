using System.Text.Json;

namespace QwenSharp.Hub;

/// <summary>
/// A `modelscope:org/name` repo → a folder in the ModelScope SDK's cache (`$MODELSCOPE_CACHE/models/org/name`,
/// with '.' in the name written '___' as the SDK does; the older `$MODELSCOPE_CACHE/org/name` is read too).
/// ModelScope's API: `GET {endpoint}/api/v1/models/{id}/repo/files?Revision=…&amp;Recursive=true` lists files
/// (Path, Size, Sha256, Type), `GET {endpoint}/api/v1/models/{id}/repo?Revision=…&amp;FilePath=…` serves one.
/// Files are plain files (no blobs or symlinks); the SDK's own .msc bookkeeping is not written.
/// </summary>
public static class ModelScopeFetcher
{
    private sealed record RemoteFile(string Path, long? Size, string? Sha256);

    public static async Task<LocatedModel> FetchAsync(RepoName name, HubOptions options,
        IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        string revision = name.Revision ?? "master";
        string[] parts = name.RepoId.Split('/');
        string masked = parts[1].Replace(".", "___");
        string folder = Path.Combine(options.ModelScopeCacheDir, "models", parts[0], masked);
        string legacy = Path.Combine(options.ModelScopeCacheDir, parts[0], masked);

        if (options.Offline || !options.CheckForUpdates)
        {
            foreach (string dir in new[] { folder, legacy })
                if (ModelFiles.SelectComplete(name.RepoId, dir, name.Pattern) is { } cached)
                    return Located(name, revision, dir, cached, downloaded: false);
            if (options.Offline)
                throw new HubException($"HF_HUB_OFFLINE is set and modelscope:{name} is not complete in {folder}; unset it and run 'qwensharp pull modelscope:{name}' once with network.");
        }

        var client = HubHttp.ClientFor(options);
        var remote = await ListAsync(client, name.RepoId, revision, options, ct).ConfigureAwait(false);
        var selection = ModelFiles.Select(name.RepoId, remote.Keys.ToList(), name.Pattern);
        bool downloaded = false;
        var files = selection.Files.ToList();
        foreach (string file in selection.Files)
            downloaded |= await EnsureFileAsync(client, name.RepoId, revision, folder, remote[file], options, progress, ct).ConfigureAwait(false);
        if (selection.WeightIndex != null)
        {
            foreach (string shard in ModelFiles.ShardsFromIndex(Path.Combine(folder, selection.WeightIndex)))
            {
                if (!remote.TryGetValue(shard, out var f))
                    throw new HubException($"modelscope:{name.RepoId}'s {selection.WeightIndex} names the shard {shard}, which the repo does not have.");
                downloaded |= await EnsureFileAsync(client, name.RepoId, revision, folder, f, options, progress, ct).ConfigureAwait(false);
                files.Add(shard);
            }
        }
        return Located(name, revision, folder, selection with { Files = files }, downloaded);
    }

    private static async Task<Dictionary<string, RemoteFile>> ListAsync(HttpClient client, string repo, string revision,
        HubOptions options, CancellationToken ct)
    {
        var url = new Uri($"{options.ModelScopeEndpoint}/api/v1/models/{repo}/repo/files?Revision={Uri.EscapeDataString(revision)}&Recursive=true");
        using var response = await HubHttp.SendAsync(client, HttpMethod.Get, url, null, crossHost: true, ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            string body = await HubHttp.ErrorTextAsync(response, ct).ConfigureAwait(false);
            throw new HubException((int)response.StatusCode is 404 or 401 or 403
                ? $"No model modelscope:{repo} at revision {revision} on {options.ModelScopeEndpoint} (HTTP {(int)response.StatusCode}); check the name on the ModelScope site."
                : $"{options.ModelScopeEndpoint} answered HTTP {(int)response.StatusCode} listing {repo}{(body.Length > 0 ? ": " + body : "")}; try again later.");
        }
        try
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
            var root = doc.RootElement;
            if (root.TryGetProperty("Code", out var code) && code.ValueKind == JsonValueKind.Number && code.GetInt32() != 200)
                throw new HubException($"ModelScope refused to list {repo}: {(root.TryGetProperty("Message", out var m) ? m.GetString() : "code " + code)}.");
            var result = new Dictionary<string, RemoteFile>(StringComparer.Ordinal);
            if (root.TryGetProperty("Data", out var data) && data.TryGetProperty("Files", out var filesJson) && filesJson.ValueKind == JsonValueKind.Array)
                foreach (var f in filesJson.EnumerateArray())
                {
                    if (f.TryGetProperty("Type", out var type) && type.GetString() == "tree") continue;
                    string? path = f.TryGetProperty("Path", out var p) ? p.GetString() : null;
                    if (string.IsNullOrEmpty(path)) continue;
                    long? size = f.TryGetProperty("Size", out var s) && s.TryGetInt64(out long n) ? n : null;
                    string? sha = f.TryGetProperty("Sha256", out var h) && h.GetString() is { Length: 64 } hex ? hex.ToLowerInvariant() : null;
                    result[path] = new RemoteFile(path, size, sha);
                }
            return result;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            // InvalidOperationException / FormatException: a member of another JSON kind than ModelScope sends.
            throw new HubException($"{options.ModelScopeEndpoint} answered the file list of {repo} with something that is not ModelScope's JSON; is MODELSCOPE_ENDPOINT right?", e);
        }
    }

    private static async Task<bool> EnsureFileAsync(HttpClient client, string repo, string revision, string folder,
        RemoteFile file, HubOptions options, IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        CacheNames.RelativePath(file.Path, "the file name", $"that {options.ModelScopeEndpoint} listed for {repo}");
        string target = Path.GetFullPath(Path.Combine(folder, file.Path));
        if (!target.StartsWith(Path.GetFullPath(folder) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new HubException($"ModelScope listed the file '{file.Path}', which points outside {folder}; refusing it.");
        if (File.Exists(target) && (file.Size == null || new FileInfo(target).Length == file.Size)) return false;
        var url = new Uri($"{options.ModelScopeEndpoint}/api/v1/models/{repo}/repo?Revision={Uri.EscapeDataString(revision)}&FilePath={Uri.EscapeDataString(file.Path)}");
        await FileTransfer.DownloadAsync(client, url, null, file.Path, target + ".incomplete", target,
            new ExpectedContent(file.Size, file.Sha256, null), options, progress, ct).ConfigureAwait(false);
        return true;
    }

    private static LocatedModel Located(RepoName name, string revision, string folder, ModelFileSelection selection, bool downloaded) => new()
    {
        Path = selection.Gguf != null ? Path.Combine(folder, selection.Gguf) : folder,
        IsGguf = selection.Gguf != null,
        Source = ModelSource.ModelScope,
        Name = "modelscope:" + name,
        Revision = revision,
        Files = selection.Files,
        Downloaded = downloaded,
    };
}
