using QwenSharp.Hub;

namespace QwenSharp.Tests.Hub;

/// <summary>The order in which a --model value is read (issue 7): path, modelscope:, org/name, Ollama.</summary>
public class ModelLocatorTests
{
    [Fact]
    public void ResolutionOrder()
    {
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir);
        Directory.CreateDirectory(dir.File("Qwen"));
        Directory.CreateDirectory(dir.File("Qwen/Qwen2-7B-Instruct"));

        // An existing folder wins even when it reads like a repo id.
        Assert.Equal(ModelSource.LocalPath, ModelLocator.Interpret(dir.File("Qwen/Qwen2-7B-Instruct"), options).Source);
        Assert.Equal(ModelSource.ModelScope, ModelLocator.Interpret("modelscope:qwen/Qwen2-7B-Instruct", options).Source);

        var hf = ModelLocator.Interpret("Qwen/Qwen2-7B-Instruct-GGUF@v1.0:q4_k_m", options);
        Assert.Equal(ModelSource.HuggingFace, hf.Source);
        Assert.Equal(new RepoName("Qwen/Qwen2-7B-Instruct-GGUF", "v1.0", "q4_k_m"), hf.Repo);

        var ollama = ModelLocator.Interpret("qwen2", options);
        Assert.Equal(ModelSource.Ollama, ollama.Source);
        Assert.Equal(new OllamaName("registry.ollama.ai", "library", "qwen2", "latest"), ollama.Ollama);

        var hfco = ModelLocator.Interpret("hf.co/bartowski/Qwen2-7B-Instruct-GGUF:Q4_K_M", options);
        Assert.Equal(ModelSource.Ollama, hfco.Source);
        Assert.Equal(new OllamaName("hf.co", "bartowski", "Qwen2-7B-Instruct-GGUF", "Q4_K_M"), hfco.Ollama);
        Assert.Equal(new RepoName("bartowski/Qwen2-7B-Instruct-GGUF", null, "Q4_K_M"), hfco.Repo);
    }

    [Fact]
    public async Task GgufFile_AndFolder_AreReturnedAsIs()
    {
        using var dir = new TempDir();
        string gguf = dir.File("model.gguf");
        File.WriteAllBytes(gguf, HubTestModels.Random(100, 1, gguf: true));
        var file = await ModelLocator.LocateAsync(gguf, HubTestModels.Options(dir));
        Assert.Equal((gguf, true, ModelSource.LocalPath), (file.Path, file.IsGguf, file.Source));
        var folder = await ModelLocator.LocateAsync(dir.Path, HubTestModels.Options(dir));
        Assert.Equal((dir.Path, false), (folder.Path, folder.IsGguf));
    }

    [Fact]
    public async Task MissingPath_AndNonGgufFile_AreClearErrors()
    {
        using var dir = new TempDir();
        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync(dir.File("nope.gguf"), HubTestModels.Options(dir)));
        Assert.StartsWith("No file or folder " + dir.File("nope.gguf"), e.Message);
        File.WriteAllText(dir.File("notes.txt"), "hello");
        e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync(dir.File("notes.txt"), HubTestModels.Options(dir)));
        Assert.Contains("not a GGUF file", e.Message);
    }

    [Fact]
    public async Task NoModel_UsesQwensharpModel_ElseTheCardsDefault()
    {
        using var dir = new TempDir();
        string gguf = dir.File("mine.gguf");
        File.WriteAllBytes(gguf, HubTestModels.Random(100, 1, gguf: true));
        var vars = new Dictionary<string, string> { ["QWENSHARP_MODEL"] = gguf };
        var withVar = HubOptions.FromVariables(vars.GetValueOrDefault, dir.Path);
        Assert.Equal(gguf, (await ModelLocator.LocateAsync(null, withVar)).Path);

        var without = HubOptions.FromVariables(_ => null, dir.Path) with { Offline = true };
        Assert.Equal("Qwen/Qwen2-7B-Instruct-GGUF:q4_k_m", without.FallbackModel);
        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync(null, without));
        Assert.Contains("Qwen/Qwen2-7B-Instruct-GGUF:q4_k_m", e.Message);
    }

    [Fact]
    public async Task PythonsCache_IsUsedWithoutDownload()
    {
        // A snapshot as huggingface_hub leaves it: blobs, relative links, refs/main.
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir);
        string folder = Path.Combine(options.HfCacheDir, "models--Qwen--Qwen2-7B-Instruct-GGUF");
        const string commit = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
        Directory.CreateDirectory(Path.Combine(folder, "blobs"));
        Directory.CreateDirectory(Path.Combine(folder, "snapshots", commit));
        Directory.CreateDirectory(Path.Combine(folder, "refs"));
        File.WriteAllText(Path.Combine(folder, "refs", "main"), commit);
        var data = HubTestModels.Random(500, 5, gguf: true);
        string sha = FakeHubServer.Sha256(data);
        File.WriteAllBytes(Path.Combine(folder, "blobs", sha), data);
        string pointer = Path.Combine(folder, "snapshots", commit, "qwen2-7b-instruct-q4_k_m.gguf");
        File.CreateSymbolicLink(pointer, "../../blobs/" + sha);

        // The endpoint is a closed port: any network use would fail.
        var located = await ModelLocator.LocateAsync(null, options);
        Assert.Equal(pointer, located.Path);
        Assert.Equal(commit, located.Commit);
        Assert.False(located.Downloaded);
    }

    [Fact]
    public void Options_FollowHuggingfaceHubVariables()
    {
        using var dir = new TempDir();
        string home = dir.Path;
        var o = HubOptions.FromVariables(_ => null, home);
        Assert.Equal(Path.Combine(home, ".cache", "huggingface", "hub"), o.HfCacheDir);
        Assert.Equal("https://huggingface.co", o.HfEndpoint);
        Assert.False(o.Offline);
        Assert.Equal(Path.Combine(home, ".ollama", "models"), o.OllamaModelDirs[0]);

        Directory.CreateDirectory(dir.File("hfhome"));
        File.WriteAllText(dir.File("hfhome/token"), "hf_fromfile\n");
        var vars = new Dictionary<string, string>
        {
            ["HF_HOME"] = dir.File("hfhome"), ["HF_ENDPOINT"] = "https://hf-mirror.com/", ["HF_HUB_OFFLINE"] = "1",
            ["OLLAMA_MODELS"] = "~/ollama-store",
        };
        o = HubOptions.FromVariables(vars.GetValueOrDefault, home);
        Assert.Equal(Path.Combine(dir.File("hfhome"), "hub"), o.HfCacheDir);
        Assert.Equal("https://hf-mirror.com", o.HfEndpoint);
        Assert.Equal("hf_fromfile", o.HfToken);
        Assert.True(o.Offline);
        Assert.Equal([Path.Combine(home, "ollama-store")], o.OllamaModelDirs);

        vars["HF_HUB_CACHE"] = dir.File("elsewhere");
        vars["HF_TOKEN"] = "hf_fromenv";
        o = HubOptions.FromVariables(vars.GetValueOrDefault, home);
        Assert.Equal(dir.File("elsewhere"), o.HfCacheDir);
        Assert.Equal("hf_fromenv", o.HfToken);
    }

    [Theory]
    [InlineData("Qwen/Qwen2-7B-Instruct", "Qwen/Qwen2-7B-Instruct", null, null)]
    [InlineData("Qwen/Qwen2-7B-Instruct@refs/pr/1", "Qwen/Qwen2-7B-Instruct", "refs/pr/1", null)]
    [InlineData("Qwen/Qwen2-7B-Instruct-GGUF:q4_k_m@main", "Qwen/Qwen2-7B-Instruct-GGUF", "main", "q4_k_m")]
    public void RepoNames(string text, string repo, string? revision, string? pattern) =>
        Assert.Equal(new RepoName(repo, revision, pattern), RepoName.Parse(text));

    [Theory]
    [InlineData("Qwen//x")]
    [InlineData("Qwen/x y")]
    [InlineData("Qwen/x:")]
    public void BadRepoNames_AreRefused(string text) =>
        Assert.Throws<HubException>(() => RepoName.Parse(text));
}
