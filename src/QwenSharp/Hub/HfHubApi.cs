using System.Net;
using System.Text.Json;

namespace QwenSharp.Hub;

/// <summary>A repo's file list at one commit, from `GET {endpoint}/api/models/{repo}/revision/{revision}`.</summary>
public sealed record HfRepoListing(string Commit, IReadOnlyList<string> Files);

/// <summary>What huggingface_hub's get_hf_file_metadata reads from a HEAD on a resolve URL: the commit
/// (X-Repo-Commit), the blob name (X-Linked-Etag for LFS files, else ETag, quotes and W/ removed), the size
/// (X-Linked-Size, else Content-Length) and where the bytes are (the 302's Location for LFS files).</summary>
public sealed record HfFileMetadata(string? Commit, string Etag, long? Size, Uri Location);

/// <summary>The two Hub HTTP endpoints the downloader uses, with the Hub's errors turned into sentences.</summary>
public sealed class HfHubApi(HubOptions options)
{
    private readonly HttpClient _client = HubHttp.ClientFor(options);
    public string Endpoint => options.HfEndpoint;

    public async Task<HfRepoListing> ListAsync(string repo, string revision, CancellationToken ct)
    {
        var url = new Uri($"{Endpoint}/api/models/{repo}/revision/{Uri.EscapeDataString(revision)}");
        using var response = await HubHttp.SendAsync(_client, HttpMethod.Get, url, options.HfToken, crossHost: true, ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw await ErrorAsync(response, repo, revision, null, ct).ConfigureAwait(false);
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            using var doc = await JsonDocument.ParseAsync(body, cancellationToken: ct).ConfigureAwait(false);
            var root = doc.RootElement;
            string commit = root.TryGetProperty("sha", out var sha) && sha.ValueKind == JsonValueKind.String ? sha.GetString()!
                : throw new HubException($"{Endpoint} listed {repo} without a commit hash ('sha'); is HF_ENDPOINT a Hugging Face Hub or mirror?");
            // The commit names the snapshot folder: checked before anything is written under it.
            CacheNames.CommitHash(commit, "the commit hash ('sha')", $"that {Endpoint} sent for {repo} at '{revision}'");
            var files = new List<string>();
            if (root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array)
                foreach (var f in siblings.EnumerateArray())
                    if (f.ValueKind == JsonValueKind.Object && f.TryGetProperty("rfilename", out var name)
                        && name.ValueKind == JsonValueKind.String && name.GetString() is { Length: > 0 } n) files.Add(n);
            return new HfRepoListing(commit, files);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string holding a lone surrogate escape, which .NET will not read.
            throw new HubException($"{Endpoint} answered the file list of {repo} with something that is not valid JSON; is HF_ENDPOINT a Hugging Face Hub or mirror?", e);
        }
    }

    public Uri ResolveUrl(string repo, string revision, string file) =>
        new($"{Endpoint}/{repo}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}");

    public async Task<HfFileMetadata> HeadAsync(string repo, string revision, string file, CancellationToken ct)
    {
        var url = ResolveUrl(repo, revision, file);
        // Only same-host redirects are followed (a renamed repo); the LFS 302 to the CDN carries the headers.
        using var response = await HubHttp.SendAsync(_client, HttpMethod.Head, url, options.HfToken, crossHost: false, ct,
            r => r.Headers.AcceptEncoding.ParseAdd("identity")).ConfigureAwait(false);
        int status = (int)response.StatusCode;
        if (status >= 400) throw await ErrorAsync(response, repo, revision, file, ct).ConfigureAwait(false);
        string? Header(string name) =>
            response.Headers.TryGetValues(name, out var v) ? v.FirstOrDefault()
            : response.Content.Headers.TryGetValues(name, out var c) ? c.FirstOrDefault() : null;
        string? etag = NormalizeEtag(Header("X-Linked-Etag") ?? Header("ETag"));
        if (etag == null)
            throw new HubException($"{Endpoint} sent no ETag for {repo}/{file}, so it cannot be stored in the cache; is HF_ENDPOINT a Hugging Face Hub or mirror?");
        long? size = long.TryParse(Header("X-Linked-Size"), out long linked) ? linked : response.Content.Headers.ContentLength;
        Uri location = status is >= 300 and < 400 && response.Headers.Location is { } loc
            ? (loc.IsAbsoluteUri ? loc : new Uri(url, loc)) : url;
        return new HfFileMetadata(Header("X-Repo-Commit"), etag, size, location);
    }

    /// <summary>huggingface_hub's _normalize_etag: drop a weak "W/" prefix and the quotes.</summary>
    public static string? NormalizeEtag(string? etag) =>
        etag == null ? null : (etag.StartsWith("W/", StringComparison.Ordinal) ? etag[2..] : etag).Trim('"') is { Length: > 0 } e ? e : null;

    /// <summary>The Hub says what went wrong in X-Error-Code (RepoNotFound, GatedRepo, RevisionNotFound,
    /// EntryNotFound); unauthenticated requests for missing or private repos get 401.</summary>
    private async Task<HubException> ErrorAsync(HttpResponseMessage response, string repo, string revision, string? file, CancellationToken ct)
    {
        string? code = response.Headers.TryGetValues("X-Error-Code", out var v) ? v.FirstOrDefault() : null;
        string body = response.RequestMessage?.Method == HttpMethod.Head ? "" : await HubHttp.ErrorTextAsync(response, ct).ConfigureAwait(false);
        string tokenHint = options.HfToken == null
            ? "set HF_TOKEN to a read token from https://huggingface.co/settings/tokens"
            : "check that the token in HF_TOKEN belongs to an account with access";
        string page = $"{Endpoint}/{repo}";
        return (code, response.StatusCode) switch
        {
            ("GatedRepo", _) or (_, HttpStatusCode.Forbidden) =>
                new HubException($"{repo} is a gated repo and access was refused ({(int)response.StatusCode}); accept its terms at {page} and {tokenHint}."),
            ("RevisionNotFound", _) =>
                new HubException($"{repo} has no revision '{revision}' on {Endpoint}; use a branch, tag or commit that exists (the default is main)."),
            ("EntryNotFound", _) =>
                new HubException($"{repo} at '{revision}' has no file {file} on {Endpoint}."),
            ("RepoNotFound", _) or (_, HttpStatusCode.NotFound) when options.HfToken == null =>
                new HubException($"No model repo {repo} on {Endpoint} (HTTP {(int)response.StatusCode}); check the name, and if it is private or gated {tokenHint}."),
            ("RepoNotFound", _) or (_, HttpStatusCode.NotFound) =>
                new HubException($"No model repo {repo} on {Endpoint} (HTTP {(int)response.StatusCode}) that the token in HF_TOKEN can see; check the name."),
            (_, HttpStatusCode.Unauthorized) =>
                new HubException($"{Endpoint} refused access to {repo} (401): it is gated or private; {tokenHint} and accept its terms at {page}."),
            (_, HttpStatusCode.TooManyRequests) =>
                new HubException($"{Endpoint} is rate-limiting downloads (429); wait a few minutes, or set HF_TOKEN, which raises the limit."),
            _ => new HubException($"{Endpoint} answered HTTP {(int)response.StatusCode} for {repo}{(file != null ? "/" + file : "")}{(body.Length > 0 ? ": " + body : "")}; try again later."),
        };
    }
}
