using QwenSharp.Hub;

namespace QwenSharp.Tests.Hub;

/// <summary>Downloads from a Hub-shaped loopback server into a temp cache, checked against huggingface_hub's
/// cache layout (file_download.py) and the bytes the server holds.</summary>
public class HfDownloadTests
{
    private static List<DownloadProgress> Reports(out IProgress<DownloadProgress> progress)
    {
        var list = new List<DownloadProgress>();
        progress = new SyncProgress(list);
        return list;
    }

    private sealed class SyncProgress(List<DownloadProgress> list) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) { lock (list) list.Add(value); }
    }

    [Fact]
    public async Task SafetensorsRepo_IsStoredInHuggingfaceHubLayout_AndUsedFromCacheWithoutNetwork()
    {
        using var server = new FakeHubServer();
        var repo = HubTestModels.Safetensors();
        server.Add(repo);
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir, server);
        var reports = Reports(out var progress);

        var located = await ModelLocator.LocateAsync("Qwen/Tiny-Instruct", options, progress);

        string folder = Path.Combine(options.HfCacheDir, "models--Qwen--Tiny-Instruct");
        string snapshot = Path.Combine(folder, "snapshots", repo.Commit);
        Assert.Equal(snapshot, located.Path);
        Assert.False(located.IsGguf);
        Assert.True(located.Downloaded);
        Assert.Equal(ModelSource.HuggingFace, located.Source);
        Assert.Equal(repo.Commit, File.ReadAllText(Path.Combine(folder, "refs", "main"))); // no newline, as Python writes it

        string[] needed = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "vocab.json",
            "merges.txt", "model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
        foreach (string file in needed)
        {
            string pointer = Path.Combine(snapshot, file);
            var info = new FileInfo(pointer);
            // A relative symlink into blobs/, named by the sha256 for LFS files and by the git blob id otherwise.
            string etag = FakeHubServer.IsLfs(file) ? FakeHubServer.Sha256(repo.Files[file]) : FakeHubServer.GitSha1(repo.Files[file]);
            Assert.Equal("../../blobs/" + etag, info.LinkTarget);
            Assert.Equal(repo.Files[file], File.ReadAllBytes(pointer));
        }
        Assert.Equal(needed.Order(), Directory.GetFiles(snapshot).Select(Path.GetFileName).Order());
        Assert.Empty(Directory.GetFiles(Path.Combine(folder, "blobs"), "*.incomplete"));
        Assert.True(Directory.Exists(Path.Combine(options.HfCacheDir, ".locks", "models--Qwen--Tiny-Instruct")));
        // Only the needed files travelled: no README, no .bin copy.
        Assert.DoesNotContain(server.Requests, r => r.Target.Contains("README") || r.Target.Contains(".bin"));
        Assert.Contains(reports, p => p.Done && p.File == "model-00001-of-00002.safetensors" && p.Received == 200_000 && p.Total == 200_000);

        // Second run: the complete snapshot is used as is, without a single request.
        int before = server.Requests.Count;
        var again = await ModelLocator.LocateAsync("Qwen/Tiny-Instruct", options);
        Assert.Equal(snapshot, again.Path);
        Assert.False(again.Downloaded);
        Assert.Equal(before, server.Requests.Count);
    }

    [Fact]
    public async Task GgufPattern_PicksOneFileCaseInsensitively_FollowingTheLfsRedirect_WithoutSendingTheTokenToTheCdn()
    {
        using var server = new FakeHubServer { AcceptedToken = "hf_test" };
        var repo = HubTestModels.Gguf();
        server.Add(repo);
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir, server) with { HfToken = "hf_test" };

        var located = await ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:Q4_K_M", options);

        Assert.True(located.IsGguf);
        Assert.Equal("tiny-instruct-q4_k_m.gguf", Path.GetFileName(located.Path));
        Assert.Equal(repo.Files["tiny-instruct-q4_k_m.gguf"], File.ReadAllBytes(located.Path));
        Assert.Equal(["tiny-instruct-q4_k_m.gguf"], Directory.GetFiles(Path.GetDirectoryName(located.Path)!).Select(Path.GetFileName));
        var cdn = server.Requests.Where(r => r.Port == server.CdnPort).ToList();
        Assert.Single(cdn);
        Assert.DoesNotContain("Authorization", cdn[0].Headers.Keys);
        Assert.All(server.Requests.Where(r => r.Port == server.ApiPort), r => Assert.Equal("Bearer hf_test", r.Headers["Authorization"]));
    }

    [Fact]
    public async Task SplitGguf_DownloadsEveryPart_AndReturnsTheFirst()
    {
        using var server = new FakeHubServer();
        server.Add(HubTestModels.Gguf());
        using var dir = new TempDir();
        var located = await ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:fp16", HubTestModels.Options(dir, server));
        Assert.EndsWith("tiny-instruct-fp16-00001-of-00002.gguf", located.Path);
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(located.Path)!, "tiny-instruct-fp16-00002-of-00002.gguf")));
        Assert.Equal(2, located.Files.Count);
    }

    [Theory]
    [InlineData("q4_k", "several", "tiny-instruct-q4_k_m.gguf")]
    [InlineData("q5_k_m", "No .gguf file", "tiny-instruct-q8_0.gguf")]
    public async Task GgufPattern_MatchingNoneOrSeveral_ListsTheFiles(string pattern, string says, string lists)
    {
        using var server = new FakeHubServer();
        server.Add(HubTestModels.Gguf());
        using var dir = new TempDir();
        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:" + pattern, HubTestModels.Options(dir, server)));
        Assert.Contains(says, e.Message);
        Assert.Contains(lists, e.Message);
    }

    [Fact]
    public async Task TransferCutHalfway_IsResumedWithARangeRequest()
    {
        using var server = new FakeHubServer();
        var repo = HubTestModels.Gguf();
        server.Add(repo);
        server.CutAfter.Enqueue(200_000);
        using var dir = new TempDir();

        var located = await ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:q4_k_m", HubTestModels.Options(dir, server));

        Assert.Equal(repo.Files["tiny-instruct-q4_k_m.gguf"], File.ReadAllBytes(located.Path));
        var cdn = server.Requests.Where(r => r.Port == server.CdnPort).ToList();
        Assert.Equal(2, cdn.Count);
        Assert.False(cdn[0].Headers.ContainsKey("Range"));
        Assert.Equal("bytes=200000-", cdn[1].Headers["Range"]);
    }

    [Fact]
    public async Task StalledTransfer_IsAbandonedAfterTheStallTimeout_AndResumed()
    {
        using var server = new FakeHubServer();
        var repo = HubTestModels.Gguf();
        server.Add(repo);
        server.StallAfter.Enqueue(120_000);
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir, server) with { StallTimeout = TimeSpan.FromMilliseconds(500) };

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var located = await ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:q4_k_m", options);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"waited for the stalled server ({clock.Elapsed})");
        Assert.Equal(repo.Files["tiny-instruct-q4_k_m.gguf"], File.ReadAllBytes(located.Path));
        Assert.Equal("bytes=120000-", server.Requests.Last(r => r.Port == server.CdnPort).Headers["Range"]);
    }

    [Fact]
    public async Task InterruptedRun_LeavesAnIncompleteBlob_ThatTheNextRunResumes()
    {
        using var server = new FakeHubServer();
        var repo = HubTestModels.Gguf();
        server.Add(repo);
        server.CutAfter.Enqueue(150_000);
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir, server) with { DownloadRetries = 0 };

        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:q4_k_m", options));
        Assert.Contains("run the command again to resume", e.Message);
        string sha = FakeHubServer.Sha256(repo.Files["tiny-instruct-q4_k_m.gguf"]);
        string incomplete = Path.Combine(options.HfCacheDir, "models--Qwen--Tiny-Instruct-GGUF", "blobs", sha + ".incomplete");
        Assert.Equal(150_000, new FileInfo(incomplete).Length);

        var located = await ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:q4_k_m", options);
        Assert.Equal(repo.Files["tiny-instruct-q4_k_m.gguf"], File.ReadAllBytes(located.Path));
        Assert.Equal("bytes=150000-", server.Requests.Last(r => r.Port == server.CdnPort).Headers["Range"]);
        Assert.False(File.Exists(incomplete));
    }

    [Fact]
    public async Task CorruptedFile_IsRejectedBySha256_AndNothingIsLinked()
    {
        using var server = new FakeHubServer { Corrupt = true };
        server.Add(HubTestModels.Gguf());
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir, server);

        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:q8_0", options));

        Assert.Contains("sha256", e.Message);
        Assert.Contains("tiny-instruct-q8_0.gguf", e.Message);
        string folder = Path.Combine(options.HfCacheDir, "models--Qwen--Tiny-Instruct-GGUF");
        Assert.Empty(Directory.GetFiles(Path.Combine(folder, "blobs")));
        Assert.False(Directory.Exists(Path.Combine(folder, "snapshots")));
    }

    [Fact]
    public async Task GatedRepo_Without401Token_SaysToSetHfToken_AndWorksWithIt()
    {
        using var server = new FakeHubServer { AcceptedToken = "hf_granted" };
        server.Add(HubTestModels.Gguf() with { Gated = true });
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir, server);

        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:q8_0", options));
        Assert.Contains("401", e.Message);
        Assert.Contains("HF_TOKEN", e.Message);

        var located = await ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:q8_0", options with { HfToken = "hf_granted" });
        Assert.True(File.Exists(located.Path));
    }

    [Fact]
    public async Task UnknownRepo_SaysSo()
    {
        using var server = new FakeHubServer();
        using var dir = new TempDir();
        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("Qwen/No-Such-Model", HubTestModels.Options(dir, server)));
        Assert.StartsWith("No model repo Qwen/No-Such-Model on " + server.Endpoint, e.Message);
    }

    [Fact]
    public async Task Offline_NeverTouchesTheNetwork_AndSaysWhatIsMissing()
    {
        using var server = new FakeHubServer();
        server.Add(HubTestModels.Gguf());
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir, server);

        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:q8_0", options with { Offline = true }));
        Assert.Contains("HF_HUB_OFFLINE", e.Message);
        Assert.Empty(server.Requests);

        await ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:q8_0", options);
        int online = server.Requests.Count;
        var located = await ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:q8_0", options with { Offline = true, CheckForUpdates = true });
        Assert.EndsWith("tiny-instruct-q8_0.gguf", located.Path);
        Assert.Equal(online, server.Requests.Count);
    }

    [Fact]
    public async Task CheckForUpdates_MovesMainToTheNewCommit_SharingUnchangedBlobs()
    {
        using var server = new FakeHubServer();
        server.Add(HubTestModels.Gguf());
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir, server) with { CheckForUpdates = true };
        var first = await ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:q8_0", options);

        const string next = "89abcdef0123456789abcdef0123456789abcdef";
        server.Add(HubTestModels.Gguf(commit: next));
        var second = await ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:q8_0", options);

        string folder = Path.Combine(options.HfCacheDir, "models--Qwen--Tiny-Instruct-GGUF");
        Assert.Equal(next, File.ReadAllText(Path.Combine(folder, "refs", "main")));
        Assert.Contains(next, second.Path);
        Assert.True(File.Exists(first.Path));
        Assert.Single(server.Requests, r => r.Port == server.CdnPort); // same ETag: the blob is reused
    }

    [Fact]
    public async Task ConnectionRefused_SaysTheHostRefused()
    {
        int closedPort;
        using (var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0)) { l.Start(); closedPort = ((System.Net.IPEndPoint)l.LocalEndpoint).Port; l.Stop(); }
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir) with { HfEndpoint = $"http://127.0.0.1:{closedPort}" };
        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("Qwen/Tiny-Instruct", options));
        Assert.Contains("refused the connection", e.Message);
        Assert.Contains("HF_HUB_OFFLINE", e.Message);
    }

    [Fact]
    public async Task UnresolvableHost_SaysNoNetworkOrDns()
    {
        // .invalid never resolves (RFC 6761), with or without a network.
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir) with { HfEndpoint = "http://hub.qwensharp.invalid" };
        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("Qwen/Tiny-Instruct", options));
        Assert.Contains("cannot resolve hub.qwensharp.invalid (no network or no DNS)", e.Message);
    }

    [Fact]
    public async Task BlobLockedByAnotherProcess_IsWaitedFor()
    {
        // util-linux flock(1) takes the same flock(2) lock as Python's filelock does on .locks/<repo>/<etag>.lock.
        if (!OperatingSystem.IsLinux() || !File.Exists("/usr/bin/flock")) return;
        using var server = new FakeHubServer();
        var repo = HubTestModels.Gguf();
        server.Add(repo);
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir, server);
        string sha = FakeHubServer.Sha256(repo.Files["tiny-instruct-q8_0.gguf"]);
        string lockFile = Path.Combine(options.HfCacheDir, ".locks", "models--Qwen--Tiny-Instruct-GGUF", sha + ".lock");
        Directory.CreateDirectory(Path.GetDirectoryName(lockFile)!);
        using var holder = System.Diagnostics.Process.Start("/usr/bin/flock", [lockFile, "sleep", "1.5"]);
        // flock(1) creates the file and locks it at once; wait for that before competing for it.
        for (int i = 0; i < 100 && !File.Exists(lockFile); i++) await Task.Delay(50);
        await Task.Delay(50);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var located = await ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:q8_0", options);

        Assert.True(holder.HasExited);
        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(0.5), $"did not wait for the lock ({clock.Elapsed})");
        Assert.Equal(repo.Files["tiny-instruct-q8_0.gguf"], File.ReadAllBytes(located.Path));
    }
}
