namespace QwenSharp.Hub;

/// <summary>
/// A Hugging Face repo → a folder or .gguf file in huggingface_hub's cache: a complete cached snapshot is used
/// as is (no network, unless <see cref="HubOptions.CheckForUpdates"/>); otherwise the file list at the
/// revision's current commit picks the needed files (<see cref="ModelFiles"/>), each is fetched into
/// blobs/ unless a blob with its ETag is already there, and linked into snapshots/&lt;commit&gt;/.
/// </summary>
public static class HfModelFetcher
{
    public static async Task<LocatedModel> FetchAsync(RepoName name, HubOptions options,
        IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        var cache = new HfCacheRepo(options.HfCacheDir, name.RepoId);
        string revision = name.Revision ?? "main";

        if (options.Offline || !options.CheckForUpdates)
        {
            if (cache.ResolveCommit(revision) is { } cachedCommit
                && ModelFiles.SelectComplete(name.RepoId, cache.SnapshotDir(cachedCommit), name.Pattern) is { } cached)
                return Located(name, cache, revision, cachedCommit, cached, downloaded: false);
            if (options.Offline)
                throw new HubException(OfflineMessage(name, cache, revision));
        }

        var api = new HfHubApi(options);
        var listing = await api.ListAsync(name.RepoId, revision, ct).ConfigureAwait(false);
        string commit = listing.Commit;
        var selection = ModelFiles.Select(name.RepoId, listing.Files, name.Pattern);
        cache.WriteRef(revision, commit);

        bool downloaded = false;
        var files = selection.Files.ToList();
        foreach (string file in selection.Files)
            downloaded |= await EnsureFileAsync(api, cache, name.RepoId, commit, file, options, progress, ct).ConfigureAwait(false);
        if (selection.WeightIndex != null)
        {
            foreach (string shard in ModelFiles.ShardsFromIndex(cache.PointerPath(commit, selection.WeightIndex)))
            {
                if (!listing.Files.Contains(shard))
                    throw new HubException($"{name.RepoId}'s {selection.WeightIndex} names the shard {shard}, which the repo does not have.");
                downloaded |= await EnsureFileAsync(api, cache, name.RepoId, commit, shard, options, progress, ct).ConfigureAwait(false);
                files.Add(shard);
            }
        }
        return Located(name, cache, revision, commit, selection with { Files = files }, downloaded);
    }

    /// <summary>Makes snapshots/&lt;commit&gt;/&lt;file&gt; present; returns true when bytes were downloaded.</summary>
    private static async Task<bool> EnsureFileAsync(HfHubApi api, HfCacheRepo cache, string repo, string commit,
        string file, HubOptions options, IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        string pointer = cache.PointerPath(commit, file);
        if (File.Exists(pointer)) return false; // a snapshot under a commit hash never changes
        var meta = await api.HeadAsync(repo, commit, file, ct).ConfigureAwait(false);
        CacheNames.FileName(meta.Etag, "the ETag", $"that {api.Endpoint} sent for {repo}/{file}");
        bool downloaded = false;
        using (await cache.LockBlobAsync(meta.Etag, ct).ConfigureAwait(false))
        {
            string blob = cache.BlobPath(meta.Etag);
            if (!File.Exists(blob))
            {
                // The token is for the Hub's own host: a CDN link is signed and must not see it.
                string? token = HubHttp.KeepsToken(new Uri(options.HfEndpoint), meta.Location) ? options.HfToken : null;
                await FileTransfer.DownloadAsync(HubHttp.ClientFor(options), meta.Location, token, file,
                    cache.IncompletePath(meta.Etag), blob, ExpectedContent.FromEtag(meta.Etag, meta.Size),
                    options, progress, ct).ConfigureAwait(false);
                downloaded = true;
            }
            cache.Link(commit, file, meta.Etag);
        }
        return downloaded;
    }

    private static LocatedModel Located(RepoName name, HfCacheRepo cache, string revision, string commit,
        ModelFileSelection selection, bool downloaded)
    {
        string snapshot = cache.SnapshotDir(commit);
        return new LocatedModel
        {
            Path = selection.Gguf != null ? cache.PointerPath(commit, selection.Gguf) : snapshot,
            IsGguf = selection.Gguf != null,
            Source = ModelSource.HuggingFace,
            Name = name.ToString(),
            Revision = revision,
            Commit = commit,
            Files = selection.Files,
            Downloaded = downloaded,
        };
    }

    private static string OfflineMessage(RepoName name, HfCacheRepo cache, string revision)
    {
        string state = !Directory.Exists(cache.Folder) ? $"{cache.Folder} does not exist"
            : cache.ResolveCommit(revision) is { } c ? $"snapshot {c[..8]} in {cache.Folder} lacks some of its files"
            : $"{cache.Folder} has no refs/{revision}";
        return $"HF_HUB_OFFLINE is set and {name} is not in the cache ({state}); unset HF_HUB_OFFLINE and run 'qwensharp pull {name}' once with network.";
    }
}
