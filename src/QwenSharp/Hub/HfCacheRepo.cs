using System.Text.RegularExpressions;

namespace QwenSharp.Hub;

/// <summary>
/// One repo's folder in huggingface_hub's cache, read and written in its exact layout (file_download.py):
/// <code>
/// models--Qwen--Qwen2-7B-Instruct/
///   blobs/&lt;etag&gt;                   file contents, named by the sha256 (LFS files) or git sha1 (others)
///   blobs/&lt;etag&gt;.incomplete        a transfer in progress, resumed from its length
///   snapshots/&lt;commit&gt;/&lt;file&gt;     relative symlink to ../../blobs/&lt;etag&gt;
///   refs/&lt;revision&gt;                the commit a branch or tag pointed to, no newline
/// </code>
/// and `.locks/models--Qwen--Qwen2-7B-Instruct/&lt;etag&gt;.lock` beside the repo folders, so a Python process and
/// ours never write the same blob at once.
/// </summary>
public sealed partial class HfCacheRepo
{
    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitHashRegex();

    public HfCacheRepo(string cacheDir, string repoId)
    {
        CacheDir = cacheDir;
        RepoId = repoId;
        // repo_folder_name(): "models" + every '/'-separated part, joined by "--".
        FolderName = "models--" + repoId.Replace("/", "--");
        Folder = Path.Combine(cacheDir, FolderName);
    }

    public string CacheDir { get; }
    public string RepoId { get; }
    public string FolderName { get; }
    public string Folder { get; }

    public static bool IsCommitHash(string revision) => CommitHashRegex().IsMatch(revision);

    /// <summary>The commit a revision stands for in this cache: a full hash as is (when its snapshot exists),
    /// else the content of refs/&lt;revision&gt;; null when the cache does not know it.</summary>
    public string? ResolveCommit(string revision)
    {
        if (IsCommitHash(revision)) return Directory.Exists(SnapshotDir(revision)) ? revision : null;
        string refPath = RefPath(revision);
        if (!File.Exists(refPath)) return null;
        string commit = File.ReadAllText(refPath).Trim();
        return IsCommitHash(commit) ? commit : null;
    }

    public string SnapshotDir(string commit) =>
        Path.Combine(Folder, "snapshots", CacheNames.CommitHash(commit, "the commit", $"of {RepoId}"));

    /// <summary>refs/&lt;revision&gt;; a revision may hold '/' (refs/pr/1), as in huggingface_hub.</summary>
    private string RefPath(string revision) =>
        Path.Combine(Folder, "refs", CacheNames.RelativePath(revision, "the revision", $"of {RepoId}"));

    public string PointerPath(string commit, string file)
    {
        CacheNames.RelativePath(file, "the file name", $"in {RepoId}");
        string snapshot = Path.GetFullPath(SnapshotDir(commit));
        string pointer = Path.GetFullPath(Path.Combine(snapshot, file));
        // huggingface_hub's _get_pointer_path refuses names that would escape the snapshot folder.
        if (!pointer.StartsWith(snapshot + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new HubException($"The repo file name '{file}' points outside the snapshot folder {snapshot}; refusing it.");
        return pointer;
    }

    public string BlobPath(string etag) => Path.Combine(Folder, "blobs", BlobName(etag));

    private string BlobName(string etag) => CacheNames.FileName(etag, "the blob name (ETag)", $"in {RepoId}");

    public string IncompletePath(string etag) => BlobPath(etag) + ".incomplete";

    /// <summary>Records that <paramref name="revision"/> points at <paramref name="commit"/>, written only when it
    /// changed (huggingface_hub does the same so a read-only shared cache still works).</summary>
    public void WriteRef(string revision, string commit)
    {
        CacheNames.CommitHash(commit, "the commit", $"of {RepoId}");
        if (revision == commit) return;
        string refPath = RefPath(revision);
        if (File.Exists(refPath) && File.ReadAllText(refPath) == commit) return;
        Directory.CreateDirectory(Path.GetDirectoryName(refPath)!);
        string tmp = refPath + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        File.WriteAllText(tmp, commit);
        File.Move(tmp, refPath, overwrite: true);
    }

    /// <summary>Makes snapshots/&lt;commit&gt;/&lt;file&gt; a relative symlink to the blob, as _create_symlink does;
    /// where symlinks are not allowed (Windows without developer mode) the blob is copied instead, which
    /// huggingface_hub also reads.</summary>
    public string Link(string commit, string file, string etag)
    {
        string pointer = PointerPath(commit, file);
        string blob = BlobPath(etag);
        Directory.CreateDirectory(Path.GetDirectoryName(pointer)!);
        if (File.Exists(pointer) || new FileInfo(pointer).LinkTarget != null) File.Delete(pointer);
        string relative = Path.GetRelativePath(Path.GetDirectoryName(pointer)!, blob);
        try
        {
            File.CreateSymbolicLink(pointer, relative);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Copy(blob, pointer, overwrite: true);
        }
        return pointer;
    }

    /// <summary>Holds `.locks/&lt;repo folder&gt;/&lt;etag&gt;.lock` exclusively. .NET's FileShare.None is an flock on
    /// Unix, the same lock Python's filelock takes, so both wait for each other.</summary>
    public async Task<IDisposable> LockBlobAsync(string etag, CancellationToken ct)
    {
        string lockPath = Path.Combine(CacheDir, ".locks", FolderName, BlobName(etag) + ".lock");
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (IsHeldElsewhere(e) && waited.Elapsed < TimeSpan.FromHours(2))
            {
                // Another process is downloading the same blob: wait for it rather than write beside it.
                await Task.Delay(500, ct).ConfigureAwait(false);
            }
        }
    }

    // flock's EWOULDBLOCK (11) on Unix; ERROR_SHARING_VIOLATION / ERROR_LOCK_VIOLATION on Windows.
    private static bool IsHeldElsewhere(IOException e) =>
        e.HResult is 11 or unchecked((int)0x80070020) or unchecked((int)0x80070021);
}
