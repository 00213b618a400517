using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using QwenSharp.Hub;

namespace QwenSharp.Tests.Hub;

/// <summary>A folder laid out as Ollama lays out ~/.ollama/models (manifests/&lt;host&gt;/&lt;ns&gt;/&lt;model&gt;/&lt;tag&gt;,
/// blobs/sha256-&lt;hex&gt;), resolved by name.</summary>
public class OllamaStoreTests
{
    private const string Template = "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}";
    private const string Params = """{"stop":["<|im_start|>","<|im_end|>"]}""";

    private static string Blob(string store, byte[] data)
    {
        string hex = Convert.ToHexStringLower(SHA256.HashData(data));
        Directory.CreateDirectory(Path.Combine(store, "blobs"));
        File.WriteAllBytes(Path.Combine(store, "blobs", "sha256-" + hex), data);
        return "sha256:" + hex;
    }

    /// <summary>Writes a model the way `ollama pull` does and returns its GGUF blob path.</summary>
    public static string AddModel(string store, string host, string ns, string model, string tag, byte[] gguf)
    {
        string modelDigest = Blob(store, gguf);
        var layers = new[]
        {
            new { mediaType = OllamaStore.ModelLayer, digest = modelDigest, size = (long)gguf.Length },
            new { mediaType = OllamaStore.TemplateLayer, digest = Blob(store, Encoding.UTF8.GetBytes(Template)), size = (long)Template.Length },
            new { mediaType = OllamaStore.ParamsLayer, digest = Blob(store, Encoding.UTF8.GetBytes(Params)), size = (long)Params.Length },
        };
        var manifest = new
        {
            schemaVersion = 2,
            mediaType = "application/vnd.docker.distribution.manifest.v2+json",
            config = new { mediaType = "application/vnd.docker.container.image.v1+json", digest = Blob(store, "{}"u8.ToArray()), size = 2L },
            layers,
        };
        string path = Path.Combine(store, "manifests", host, ns, model, tag);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, JsonSerializer.Serialize(manifest));
        return Path.Combine(store, "blobs", modelDigest.Replace(':', '-'));
    }

    [Theory]
    [InlineData("qwen2:7b", "7b")]
    [InlineData("Qwen2:7B", "7b")]
    [InlineData("qwen2", "latest")]
    [InlineData("registry.ollama.ai/library/qwen2:latest", "latest")]
    public async Task LibraryName_ResolvesToTheGgufBlobInPlace_WithTemplateAndParams(string name, string tag)
    {
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir);
        string store = options.OllamaModelDirs[0];
        string blob7b = AddModel(store, "registry.ollama.ai", "library", "qwen2", "7b", HubTestModels.Random(3000, 1, gguf: true));
        string blobLatest = AddModel(store, "registry.ollama.ai", "library", "qwen2", "latest", HubTestModels.Random(3000, 2, gguf: true));

        var located = await ModelLocator.LocateAsync(name, options);

        Assert.Equal(tag == "7b" ? blob7b : blobLatest, located.Path);
        Assert.True(located.IsGguf);
        Assert.Equal(ModelSource.Ollama, located.Source);
        Assert.Equal(Template, located.Ollama!.Template);
        Assert.Equal(Params, located.Ollama.Parameters);
        Assert.Null(located.Ollama.System);
    }

    [Fact]
    public async Task HfCoName_IsReadFromTheStoreWhenOllamaHasIt()
    {
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir);
        string blob = AddModel(options.OllamaModelDirs[0], "hf.co", "Qwen", "Qwen2-7B-Instruct-GGUF", "Q4_K_M", HubTestModels.Random(3000, 3, gguf: true));
        var located = await ModelLocator.LocateAsync("hf.co/Qwen/Qwen2-7B-Instruct-GGUF:Q4_K_M", options);
        Assert.Equal(blob, located.Path);
    }

    [Fact]
    public async Task MissingName_SaysWhereItLooked()
    {
        using var server = new FakeHubServer();
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir, server);
        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("qwen2:72b", options));
        Assert.Contains(Path.Combine(options.OllamaModelDirs[0], "manifests", "registry.ollama.ai", "library", "qwen2", "72b"), e.Message);
        Assert.Contains($"Ollama's registry ({server.Endpoint}) has no qwen2:72b", e.Message);

        e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("qwen2:72b", options with { Offline = true }));
        Assert.Contains("HF_HUB_OFFLINE", e.Message);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task MissingName_IsPulledFromTheRegistry_IntoTheStoreAsOllamaLaysItOut()
    {
        using var server = new FakeHubServer();
        var gguf = HubTestModels.Random(300_000, 7, gguf: true);
        var license = Encoding.UTF8.GetBytes("Apache License 2.0");
        server.AddOllama("library", "qwen2", "0.5b",
            (OllamaStore.ModelLayer, gguf), (OllamaStore.TemplateLayer, Encoding.UTF8.GetBytes(Template)),
            ("application/vnd.ollama.image.license", license), (OllamaStore.ParamsLayer, Encoding.UTF8.GetBytes(Params)));
        server.CutAfter.Enqueue(100_000);
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir, server);
        string store = options.OllamaModelDirs[0];

        var located = await ModelLocator.LocateAsync("qwen2:0.5b", options);

        Assert.True(located.Downloaded);
        Assert.Equal(Path.Combine(store, "blobs", "sha256-" + FakeHubServer.Sha256(gguf)), located.Path);
        Assert.Equal(gguf, File.ReadAllBytes(located.Path));
        Assert.Equal(Template, located.Ollama!.Template);
        Assert.Equal(Params, located.Ollama.Parameters);
        var layers = new (string, byte[])[] { (OllamaStore.ModelLayer, gguf), (OllamaStore.TemplateLayer, Encoding.UTF8.GetBytes(Template)),
            ("application/vnd.ollama.image.license", license), (OllamaStore.ParamsLayer, Encoding.UTF8.GetBytes(Params)) };
        Assert.Equal(FakeHubServer.OllamaManifest(layers), File.ReadAllBytes(Path.Combine(store, "manifests", "registry.ollama.ai", "library", "qwen2", "0.5b")));
        Assert.Contains(server.Requests, r => r.Headers.TryGetValue("Range", out var range) && range == "bytes=100000-");
        Assert.DoesNotContain(server.Requests, r => r.Target.Contains(FakeHubServer.Sha256(license)));

        int before = server.Requests.Count;
        var again = await ModelLocator.LocateAsync("qwen2:0.5b", options);
        Assert.Equal(located.Path, again.Path);
        Assert.Equal(before, server.Requests.Count);
    }

    [Fact]
    public async Task MissingBlob_SaysToPullAgain()
    {
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir);
        string blob = AddModel(options.OllamaModelDirs[0], "registry.ollama.ai", "library", "qwen2", "7b", HubTestModels.Random(3000, 1, gguf: true));
        File.Delete(blob);
        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("qwen2:7b", options));
        Assert.Contains(blob, e.Message);
        Assert.Contains("ollama pull qwen2:7b", e.Message);
    }
}
