using System.Text.Json.Nodes;
using QwenSharp.Engine;
using QwenSharp.Formats;
using QwenSharp.Model;
using QwenSharp.Server.Backend;
using QwenSharp.Tensors;
using static QwenSharp.Server.Tests.HttpApi;

namespace QwenSharp.Server.Tests;

/// <summary>
/// sampling_params.rope_scaling on a served random model with YaRN (factor 4 over an original context of 32; a byte-level
/// vocabulary and a template that joins the messages' contents, so "hello" is 5 prompt tokens), with a 64-token context.
/// </summary>
public sealed class RopeScalingHttpTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "qwensharp-server-rope-" + Guid.NewGuid().ToString("N")[..8]);
    private TestServer _yarn = null!, _static = null!, _plain = null!;

    private static Qwen2Config Config(bool yarn) => new()
    {
        Origin = "rope-test", HiddenSize = 64, NumAttentionHeads = 4, NumKeyValueHeads = 2, NumHiddenLayers = 1, IntermediateSize = 64,
        VocabSize = 300, TieWordEmbeddings = true, MaxPositionEmbeddings = 256, RopeTheta = 1e6, RmsNormEps = 1e-6,
        EosTokenIds = [299], BosTokenId = 299, RopeScaling = yarn ? new RopeScaling(RopeScaling.Yarn, 4, 32) : null,
    };

    private async Task<TestServer> Serve(bool yarn, RopeScalingMode mode)
    {
        string gguf = Path.Combine(_dir, $"{yarn}-{mode}.gguf"), template = Path.Combine(_dir, "template.jinja");
        File.WriteAllText(template, "{% for m in messages %}{{ m['content'] }}{% endfor %}");
        RandomModel.WriteGguf(Config(yarn), gguf, GgmlType.F32, 3, GgufTokenizerExport.BytesOnly(300));
        var model = LoadedModel.Load(gguf, new EngineOptions { KvCacheBytes = 4 << 20, MaxModelLen = 64, RopeScalingMode = mode }, template);
        return await TestServer.StartAsync(backend: new LoadedModelBackend(model, gguf));
    }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _yarn = await Serve(true, RopeScalingMode.LengthAware);
        _static = await Serve(true, RopeScalingMode.Static);
        _plain = await Serve(false, RopeScalingMode.LengthAware);
    }

    public async Task DisposeAsync()
    {
        foreach (var s in new[] { _yarn, _static, _plain }) if (s != null) await s.DisposeAsync();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static string Chat(string? maxTokens, bool stream = false) =>
        $$"""{"model": "{{TestServer.Model}}", "messages": [{"role": "user", "content": "hello"}], "temperature": 0, "ignore_eos": true{{(maxTokens == null ? "" : $", \"max_tokens\": {maxTokens}")}}{{(stream ? ", \"stream\": true" : "")}}}""";

    private static async Task<string?> Rope(TestServer server, string body, string path = "v1/chat/completions")
    {
        var (status, json) = await PostAsync(server.Http, path, body);
        Assert.True(status == 200, json?.ToJsonString());
        return json!["sampling_params"]!["rope_scaling"]?.ToJsonString();
    }

    [Fact]
    public async Task ChatResponsesSayWhichTableTheRequestRanUnder()
    {
        Assert.Equal("""{"mode":"length-aware","rope":"plain"}""", await Rope(_yarn, Chat("27")));   // 5 + 27 = 32
        Assert.Equal("""{"mode":"length-aware","rope":"yarn"}""", await Rope(_yarn, Chat("28")));    // 33
        Assert.Equal("""{"mode":"length-aware","rope":"yarn","recomputed_at_tokens":33}""", await Rope(_yarn, Chat(null)));
        Assert.Equal("""{"mode":"static","rope":"yarn"}""", await Rope(_static, Chat("8")));
        Assert.Null(await Rope(_plain, Chat(null)));                                                 // no rope_scaling: no field
    }

    [Fact]
    public async Task AStreamsFinishingChunkCarriesItAndCompletionsDefaultIsABound()
    {
        var (events, _, _) = await PostSseAsync(_yarn.Http, "v1/chat/completions", Chat(null, stream: true));
        var finishing = events.Where(e => e != "[DONE]").Select(e => JsonNode.Parse(e)!).Single(e => e["sampling_params"] != null);
        Assert.Equal("""{"mode":"length-aware","rope":"yarn","recomputed_at_tokens":33}""", finishing["sampling_params"]!["rope_scaling"]!.ToJsonString());

        // /v1/completions without max_tokens means 16 (vLLM's default), a bound, not an open length: 20 + 16 > 32 runs under
        // YaRN from the first token (an open length would have started plain and been recomputed at 33).
        string completion = $$"""{"model": "{{TestServer.Model}}", "prompt": [{{string.Join(", ", Enumerable.Range(1, 20))}}], "temperature": 0, "ignore_eos": true}""";
        Assert.Equal("""{"mode":"length-aware","rope":"yarn"}""", await Rope(_yarn, completion, "v1/completions"));
    }
}
