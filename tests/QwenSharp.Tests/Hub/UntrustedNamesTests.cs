using System.Text;
using QwenSharp.Hub;

namespace QwenSharp.Tests.Hub;

/// <summary>Names from a server's answer or a typed model name that would become paths (issue 14, point 7): each
/// hostile shape is refused with a sentence naming it, and nothing is written outside the cache folders.</summary>
public class UntrustedNamesTests
{
    // From snapshots/<commit>/ in the HF cache, five '..' reach the test's temp folder.
    public static TheoryData<string> HostileFileNames => new()
    {
        "../../../../../escaped.gguf",
        "{dir}/escaped.gguf",
        "..\\..\\..\\..\\..\\escaped.gguf",
        "sub\\escaped.gguf",
        "esc\0aped.gguf",
        "esc\u0001aped.gguf",
        "C:/escaped.gguf",
        "sub//escaped.gguf",
        "sub/./escaped.gguf",
        "sub/../escaped.gguf",
        "sub/.../escaped.gguf",
    };

    /// <summary>Every file and folder under the test's temp folder lies in one of the cache folders.</summary>
    private static void AssertNothingOutsideTheCaches(TempDir dir, HubOptions options)
    {
        string[] caches = [options.HfCacheDir, options.ModelScopeCacheDir, options.OllamaModelDirs[0]];
        foreach (string entry in Directory.EnumerateFileSystemEntries(dir.Path, "*", SearchOption.AllDirectories))
            Assert.True(caches.Any(c => entry == c || entry.StartsWith(c + Path.DirectorySeparatorChar, StringComparison.Ordinal)
                                        || c.StartsWith(entry + Path.DirectorySeparatorChar, StringComparison.Ordinal)),
                $"{entry} was written outside the cache folders");
        Assert.False(File.Exists(dir.File("escaped.gguf")));
        Assert.False(Directory.Exists(dir.File("escaped")));
    }

    private static IEnumerable<string> FilesUnder(string folder) =>
        Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories) : [];

    private static FakeHubServer.Repo OneGguf(string id, string file, string commit = HubTestModels.Commit) =>
        new(id, commit, new Dictionary<string, byte[]>
        {
            [file] = HubTestModels.Random(1000, 1, gguf: true),
            ["README.md"] = "# x\n"u8.ToArray(),
        });

    [Theory]
    [MemberData(nameof(HostileFileNames))]
    public async Task HfFileName_FromTheListing_IsRefusedBeforeAnythingIsWritten(string name)
    {
        using var dir = new TempDir();
        name = name.Replace("{dir}", dir.Path);
        using var server = new FakeHubServer();
        server.Add(OneGguf("Qwen/Hostile", name));
        var options = HubTestModels.Options(dir, server);

        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("Qwen/Hostile", options));

        Assert.StartsWith($"Refusing the file name '{CacheNames.Shown(name)}' in Qwen/Hostile: it ", e.Message);
        Assert.Empty(FilesUnder(Path.Combine(options.HfCacheDir, "models--Qwen--Hostile", "blobs")));
        Assert.DoesNotContain(server.Requests, r => r.Target.Contains("/resolve/"));
        AssertNothingOutsideTheCaches(dir, options);
    }

    [Theory]
    [MemberData(nameof(HostileFileNames))]
    public async Task ModelScopeFileName_FromTheListing_IsRefusedBeforeAnythingIsWritten(string name)
    {
        using var dir = new TempDir();
        name = name.Replace("{dir}", dir.Path);
        using var server = new FakeHubServer();
        server.Add(OneGguf("qwen/Hostile", name));
        var options = HubTestModels.Options(dir, server);

        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("modelscope:qwen/Hostile", options));

        Assert.StartsWith($"Refusing the file name '{CacheNames.Shown(name)}' that {server.Endpoint} listed for qwen/Hostile: it ", e.Message);
        Assert.Empty(FilesUnder(options.ModelScopeCacheDir));
        AssertNothingOutsideTheCaches(dir, options);
    }

    [Theory]
    [InlineData("../../../../escaped")]
    [InlineData("0123456789abcdef")]
    [InlineData("0123456789ABCDEF0123456789ABCDEF01234567")]
    [InlineData("0123456789abcdef0123456789abcdef0123456g")]
    [InlineData("0123456789abcdef0123456789abcdef01234567/..")]
    [InlineData("")]
    public async Task HfCommitHash_ThatIsNot40LowercaseHex_IsRefusedBeforeAnythingIsWritten(string commit)
    {
        using var dir = new TempDir();
        using var server = new FakeHubServer();
        server.Add(HubTestModels.Gguf(commit: commit));
        var options = HubTestModels.Options(dir, server);

        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:q8_0", options));

        Assert.Equal($"Refusing the commit hash ('sha') '{commit}' that {server.Endpoint} sent for Qwen/Tiny-Instruct-GGUF at 'main': "
            + "it is not a commit hash of 40 lowercase hex digits. Nothing was written for it.", e.Message);
        Assert.Empty(FilesUnder(options.HfCacheDir));
        AssertNothingOutsideTheCaches(dir, options);
    }

    [Theory]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("../../../../escaped.gguf")]
    [InlineData("sub/escaped")]
    [InlineData("sub\\escaped")]
    public async Task HfEtag_ThatIsNotOneFileName_IsRefusedBeforeAnythingIsWritten(string etag)
    {
        using var dir = new TempDir();
        using var server = new FakeHubServer();
        server.Add(HubTestModels.Gguf());
        server.EtagFor["tiny-instruct-q8_0.gguf"] = etag;
        var options = HubTestModels.Options(dir, server);

        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("Qwen/Tiny-Instruct-GGUF:q8_0", options));

        Assert.StartsWith($"Refusing the ETag '{etag}' that {server.Endpoint} sent for Qwen/Tiny-Instruct-GGUF/tiny-instruct-q8_0.gguf: it ", e.Message);
        string folder = Path.Combine(options.HfCacheDir, "models--Qwen--Tiny-Instruct-GGUF");
        Assert.Empty(FilesUnder(Path.Combine(folder, "blobs")));
        Assert.Empty(FilesUnder(Path.Combine(folder, "snapshots")));
        Assert.Empty(FilesUnder(Path.Combine(options.HfCacheDir, ".locks")));
        Assert.DoesNotContain(server.Requests, r => r.Port == server.CdnPort);
        AssertNothingOutsideTheCaches(dir, options);
    }

    [Theory]
    [InlineData("..")]
    [InlineData("../../../../escaped")]
    [InlineData("refs/../../escaped")]
    [InlineData("/escaped")]
    [InlineData("refs//pr")]
    [InlineData("a\u0001b")]
    public async Task Revision_ThatWouldLeaveRefs_IsRefusedWithoutARequest(string revision)
    {
        string text = "Qwen/Tiny-Instruct@" + revision;
        var e = Assert.Throws<HubException>(() => RepoName.Parse(text));
        Assert.StartsWith($"Refusing the revision '{CacheNames.Shown(revision)}' in '{CacheNames.Shown(text)}': it ", e.Message);

        using var dir = new TempDir();
        using var server = new FakeHubServer();
        server.Add(HubTestModels.Safetensors());
        var options = HubTestModels.Options(dir, server);
        e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync(text, options));
        Assert.Contains($"'{CacheNames.Shown(revision)}'", e.Message);
        Assert.Empty(server.Requests);
        Assert.Empty(FilesUnder(dir.Path));
    }

    [Theory]
    [InlineData("qwen2:..", "tag", "..")]
    [InlineData("qwen2:.", "tag", ".")]
    [InlineData("qwen2:a..b", "tag", "a..b")]
    [InlineData("qwen2:a\u0000b", "tag", "a\\u0000b")]
    [InlineData("qwen2:a b", "tag", "a b")]
    [InlineData("../qwen2:7b", "namespace", "..")]
    [InlineData("lib.rary/qwen2:7b", "namespace", "lib.rary")]
    [InlineData("host/ns/..:7b", "model", "..")]
    public void OllamaName_PartsAreCheckedAlike_TheTagIncluded(string text, string role, string part)
    {
        var e = Assert.Throws<HubException>(() => OllamaName.Parse(text));
        Assert.StartsWith($"'{CacheNames.Shown(text)}' is not a valid Ollama model name: its {role} '{part}' ", e.Message);
    }

    [Theory]
    [InlineData("qwen2:7b")]
    [InlineData("qwen2:v1.5-q4_0")]
    [InlineData("hf.co/bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M")]
    [InlineData("my_ns/my-model.v2:latest")]
    public void OllamaName_OrdinaryNames_StillParse(string text) => Assert.Equal(text.Split(':')[^1], OllamaName.Parse(text).Tag);

    [Fact]
    public async Task OllamaDotDotTag_IsRefusedWithoutARequestOrAFile()
    {
        using var dir = new TempDir();
        using var server = new FakeHubServer();
        var options = HubTestModels.Options(dir, server);
        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("qwen2:..", options));
        Assert.Contains("its tag '..'", e.Message);
        Assert.Empty(server.Requests);
        Assert.Empty(FilesUnder(dir.Path));
    }

    public static TheoryData<string> HostileDigests => new()
    {
        "sha256:../../../../escaped",
        "sha256:" + new string('A', 64),
        "sha256-" + new string('a', 64),
        "sha512:" + new string('a', 64),
        "sha256:" + new string('a', 63),
        "sha256:" + new string('a', 63) + "/",
    };

    [Theory]
    [MemberData(nameof(HostileDigests))]
    public async Task OllamaRegistryDigest_IsRefusedBeforeAnyBlobIsWritten(string digest)
    {
        using var dir = new TempDir();
        using var server = new FakeHubServer();
        var gguf = HubTestModels.Random(2000, 7, gguf: true);
        // The model layer is valid and comes first: it must not be fetched before the bad one is seen.
        string manifest = $$"""
            {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
             "layers":[{"mediaType":"{{OllamaStore.ModelLayer}}","digest":"{{FakeHubServer.Digest(gguf)}}","size":{{gguf.Length}}},
                       {"mediaType":"{{OllamaStore.TemplateLayer}}","digest":"{{digest}}","size":3}]}
            """;
        server.AddOllamaManifest("library", "qwen2", "7b", Encoding.UTF8.GetBytes(manifest));
        var options = HubTestModels.Options(dir, server);

        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("qwen2:7b", options));

        Assert.Contains($"Refusing the layer digest '{digest}' in the manifest of qwen2:7b from {server.Endpoint}: it is not a digest of the form sha256:<64 lowercase hex digits>.", e.Message);
        Assert.DoesNotContain(server.Requests, r => r.Target.Contains("/blobs/"));
        Assert.Empty(FilesUnder(options.OllamaModelDirs[0]));
        AssertNothingOutsideTheCaches(dir, options);
    }

    [Theory]
    [MemberData(nameof(HostileDigests))]
    public async Task OllamaStoreDigest_InALocalManifest_IsRefused(string digest)
    {
        using var dir = new TempDir();
        var options = HubTestModels.Options(dir);
        string manifestPath = Path.Combine(options.OllamaModelDirs[0], "manifests", "registry.ollama.ai", "library", "qwen2", "7b");
        Directory.CreateDirectory(Path.GetDirectoryName(manifestPath)!);
        File.WriteAllText(manifestPath, $$"""{"layers":[{"mediaType":"{{OllamaStore.ModelLayer}}","digest":"{{digest}}","size":3}]}""");

        var e = await Assert.ThrowsAsync<HubException>(() => ModelLocator.LocateAsync("qwen2:7b", options));

        Assert.Equal($"Refusing the layer digest '{digest}' in the Ollama manifest {manifestPath}: it is not a digest of the form sha256:<64 lowercase hex digits>. Nothing was written for it.", e.Message);
    }
}
