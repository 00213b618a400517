using QwenSharp.Hub;

namespace QwenSharp.Tests.Hub;

/// <summary>`modelscope:` names against a loopback server speaking ModelScope's /api/v1 file API.</summary>
public class ModelScopeTests
{
    [Fact]
    public async Task Download_GoesToTheSdkCacheLayout_AndIsReusedOffline()
    {
        using var server = new FakeHubServer();
        var repo = HubTestModels.Safetensors("qwen/Qwen2.5-Tiny");
        server.Add(repo);
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir, server);

        var located = await ModelLocator.LocateAsync("modelscope:qwen/Qwen2.5-Tiny", options);

        // The SDK writes '.' in model names as '___'.
        string folder = Path.Combine(options.ModelScopeCacheDir, "models", "qwen", "Qwen2___5-Tiny");
        Assert.Equal(folder, located.Path);
        Assert.Equal(ModelSource.ModelScope, located.Source);
        Assert.Equal(repo.Files["model-00002-of-00002.safetensors"], File.ReadAllBytes(Path.Combine(folder, "model-00002-of-00002.safetensors")));
        Assert.False(File.Exists(Path.Combine(folder, "README.md")));
        Assert.Contains(server.Requests, r => r.Target.StartsWith("/api/v1/models/qwen/Qwen2.5-Tiny/repo/files?Revision=master&Recursive=true"));

        int before = server.Requests.Count;
        var offline = await ModelLocator.LocateAsync("modelscope:qwen/Qwen2.5-Tiny", options with { Offline = true });
        Assert.Equal(folder, offline.Path);
        Assert.Equal(before, server.Requests.Count);
    }

    [Fact]
    public async Task CorruptedFile_IsRejectedBySha256()
    {
        using var server = new FakeHubServer { Corrupt = true };
        server.Add(HubTestModels.Gguf("qwen/Tiny-GGUF"));
        using var dir = new TempDir();
        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("modelscope:qwen/Tiny-GGUF:q8_0", HubTestModels.Options(dir, server)));
        Assert.Contains("sha256", e.Message);
    }

    [Fact]
    public async Task UnknownModel_SaysSo()
    {
        using var server = new FakeHubServer();
        using var dir = new TempDir();
        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("modelscope:qwen/Nothing", HubTestModels.Options(dir, server)));
        Assert.StartsWith("No model modelscope:qwen/Nothing", e.Message);
    }
}
