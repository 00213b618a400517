using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace QwenSharp.Hub;

/// <summary>How a downloaded file is checked: by its sha256 (LFS files, whose ETag is the sha256), by its git
/// blob sha1 (small files, whose ETag is the git object id), or by size only.</summary>
public readonly record struct ExpectedContent(long? Size, string? Sha256, string? GitSha1)
{
    /// <summary>What a Hub ETag tells: 64 hex digits are a sha256, 40 a git blob sha1.</summary>
    public static ExpectedContent FromEtag(string etag, long? size) =>
        etag.Length == 64 && IsHex(etag) ? new(size, etag, null)
        : etag.Length == 40 && IsHex(etag) && size != null ? new(size, null, etag)
        : new(size, null, null);

    private static bool IsHex(string s) => s.All(char.IsAsciiHexDigitLower);
}

/// <summary>
/// One file's transfer into `&lt;final&gt;.incomplete`, resumed with a Range request from whatever that file holds
/// (after an earlier run broke off, or within this one up to <see cref="HubOptions.DownloadRetries"/> times, as
/// huggingface_hub's http_get does), hashed while it is written, then checked and renamed to its final name.
/// </summary>
public static class FileTransfer
{
    public static async Task DownloadAsync(HttpClient client, Uri url, string? token, string displayName,
        string incompletePath, string finalPath, ExpectedContent expected, HubOptions options,
        IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(incompletePath)!);
        using var hash = new RunningHash(expected);
        long startedWith = File.Exists(incompletePath) ? new FileInfo(incompletePath).Length : 0;
        var clock = Stopwatch.StartNew();

        for (int attempt = 0; ; attempt++)
        {
            long have = File.Exists(incompletePath) ? new FileInfo(incompletePath).Length : 0;
            if (expected.Size is { } size && have > size) { Truncate(incompletePath); have = 0; }
            CheckSpace(incompletePath, expected.Size is { } s ? s - have : null);
            if (expected.Size is { } total && have == total)
            {
                File.Open(incompletePath, FileMode.Append).Dispose(); // an empty file has nothing to fetch
                break;
            }
            try
            {
                bool complete = await TransferAsync(client, url, token, displayName, incompletePath, have, expected,
                    options, hash, progress, clock, startedWith, ct).ConfigureAwait(false);
                if (complete) break;
            }
            catch (Exception e) when (IsBrokenTransfer(e, ct) && attempt < options.DownloadRetries)
            {
                // A cut connection or stalled read: try again from what is on disk.
                await Task.Delay(RetryDelay(attempt), ct).ConfigureAwait(false);
                continue;
            }
            catch (Exception e) when (IsBrokenTransfer(e, ct))
            {
                long got = File.Exists(incompletePath) ? new FileInfo(incompletePath).Length : 0;
                string of = expected.Size is { } t ? $" of {t}" : "";
                throw new HubException($"The download of {displayName} broke off at {got}{of} bytes after {attempt + 1} tries ({e.Message.TrimEnd('.')}); run the command again to resume it.", e);
            }
            if (attempt >= options.DownloadRetries)
                throw new HubException($"The download of {displayName} kept ending early after {attempt + 1} tries; run the command again to resume it.");
        }

        long length = new FileInfo(incompletePath).Length;
        if (expected.Size is { } want && length != want)
        {
            File.Delete(incompletePath);
            throw new HubException($"{displayName} arrived with {length} bytes where the server announced {want}; the partial file was removed, run the command again.");
        }
        if (hash.Active)
        {
            string actual = hash.Finish(incompletePath, length);
            string wanted = expected.Sha256 ?? expected.GitSha1!;
            if (actual != wanted)
            {
                File.Delete(incompletePath);
                string algo = expected.Sha256 != null ? "sha256" : "git sha1";
                throw new HubException($"{displayName} is corrupted: its {algo} is {actual} but the server announced {wanted}; the file was removed, run the command again to download it afresh.");
            }
        }
        File.Move(incompletePath, finalPath, overwrite: true);
        QwenSharp.Formats.PageCache.Release(finalPath); // weights: the first load reads them back onto huge pages
        progress?.Report(new DownloadProgress(displayName, length, expected.Size ?? length, startedWith, clock.Elapsed, Done: true));
    }

    /// <summary>One request; returns true when the body ended at the expected size (or at its end when none is known).</summary>
    private static async Task<bool> TransferAsync(HttpClient client, Uri url, string? token, string displayName,
        string incompletePath, long have, ExpectedContent expected, HubOptions options, RunningHash hash,
        IProgress<DownloadProgress>? progress, Stopwatch clock,
        long startedWith, CancellationToken ct)
    {
        using var response = await HubHttp.SendAsync(client, HttpMethod.Get, url, token, crossHost: true, ct, r =>
        {
            if (have > 0) r.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(have, null);
        }).ConfigureAwait(false);

        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // The partial file is not a prefix of this content (it changed): start over.
            Truncate(incompletePath);
            throw new IOException("the server refused to resume (416)");
        }
        if (!response.IsSuccessStatusCode)
        {
            string body = await HubHttp.ErrorTextAsync(response, ct).ConfigureAwait(false);
            int code = (int)response.StatusCode;
            if (code >= 500 || code == 429) throw new IOException($"the server answered {code} {body}");
            throw new HubException($"Downloading {displayName} from {url.Authority} failed with HTTP {code}{(body.Length > 0 ? ": " + body : "")}.");
        }

        bool append = have > 0 && response.StatusCode == HttpStatusCode.PartialContent
            && response.Content.Headers.ContentRange?.From == have;
        if (!append) have = 0;
        // Bring the running hash to the start of the bytes about to arrive.
        if (hash.Active && hash.Hashed != have) hash.Restart(incompletePath, have);
        long? total = expected.Size ?? (response.Content.Headers.ContentLength is { } cl ? cl + have : null);

        var buffer = new byte[1 << 20];
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
        await using var body2 = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        await using var file = OpenForWrite(incompletePath, append, expected.Size);
        long received = have;
        progress?.Report(new DownloadProgress(displayName, received, total, startedWith, clock.Elapsed, Done: false));
        while (true)
        {
            stall.CancelAfter(options.StallTimeout);
            int n;
            try
            {
                n = await body2.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new IOException($"no data for {options.StallTimeout.TotalSeconds:0} s");
            }
            if (n == 0) break;
            try
            {
                await file.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
            }
            catch (IOException e) when (HubHttp.IsDiskFull(e))
            {
                throw HubHttp.DiskFull(incompletePath, total is { } t ? t - received : null, e);
            }
            hash.Append(buffer, n);
            received += n;
            progress?.Report(new DownloadProgress(displayName, received, total, startedWith, clock.Elapsed, Done: false));
        }
        try
        {
            await file.FlushAsync(ct).ConfigureAwait(false);
        }
        catch (IOException e) when (HubHttp.IsDiskFull(e))
        {
            throw HubHttp.DiskFull(incompletePath, null, e);
        }
        return expected.Size is not { } size || received >= size;
    }

    private static FileStream OpenForWrite(string path, bool append, long? size)
    {
        try
        {
            return new FileStream(path, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16, useAsync: true);
        }
        catch (IOException e) when (HubHttp.IsDiskFull(e))
        {
            throw HubHttp.DiskFull(path, size, e);
        }
    }

    private static void CheckSpace(string path, long? needed)
    {
        if (needed is not { } n || n <= 0) return;
        if (HubHttp.FreeBytes(Path.GetDirectoryName(path)!) is { } free && free < n)
            throw HubHttp.DiskFull(path, n, null);
    }

    private static void Truncate(string path)
    {
        if (File.Exists(path)) File.Delete(path);
    }

    private static bool IsBrokenTransfer(Exception e, CancellationToken ct) =>
        !ct.IsCancellationRequested && e is IOException or HttpIOException && e is not HubException
        && !(e is IOException io && HubHttp.IsDiskFull(io));

    private static TimeSpan RetryDelay(int attempt) => TimeSpan.FromMilliseconds(Math.Min(8000, 250 << Math.Min(attempt, 5)));

    /// <summary>The hash of the .incomplete file kept up to date as bytes arrive, restarted from the file when a
    /// transfer resumes at another offset. A git blob id is sha1("blob &lt;size&gt;\0" + content).</summary>
    private sealed class RunningHash(ExpectedContent expected) : IDisposable
    {
        private readonly IncrementalHash? _hash = expected.Sha256 != null ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256)
            : expected.GitSha1 != null ? IncrementalHash.CreateHash(HashAlgorithmName.SHA1) : null;

        public bool Active => _hash != null;
        public long Hashed { get; private set; } = -1;

        public void Restart(string path, long upTo)
        {
            if (_hash == null) return;
            _hash.GetHashAndReset();
            if (expected.GitSha1 != null) _hash.AppendData(Encoding.ASCII.GetBytes($"blob {expected.Size}\0"));
            Hashed = 0;
            if (upTo <= 0) return;
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
            var buffer = new byte[1 << 20];
            while (Hashed < upTo)
            {
                int n = f.Read(buffer, 0, (int)Math.Min(buffer.Length, upTo - Hashed));
                if (n == 0) break;
                _hash.AppendData(buffer, 0, n);
                Hashed += n;
            }
        }

        public void Append(byte[] buffer, int count)
        {
            if (_hash == null) return;
            _hash.AppendData(buffer, 0, count);
            Hashed += count;
        }

        public string Finish(string path, long length)
        {
            if (Hashed != length) Restart(path, length);
            return Convert.ToHexStringLower(_hash!.GetHashAndReset());
        }

        public void Dispose() => _hash?.Dispose();
    }
}
