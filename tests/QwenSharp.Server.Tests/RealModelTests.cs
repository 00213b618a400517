using System.IO.Compression;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Chat;
using QwenSharp.Engine;
using QwenSharp.Formats;
using QwenSharp.Model;
using QwenSharp.Server.Backend;
using QwenSharp.Tensors;

namespace QwenSharp.Server.Tests;

/// <summary>
/// A random-weight model with Qwen2's real tokenizer and chat template inside one GGUF file (tiny layers, the
/// real 151,936-token vocabulary), served on loopback and called as users call it.
/// </summary>
public sealed class RealModelFixture : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "qwensharp-server-real-" + Guid.NewGuid().ToString("N")[..8]);

    public TestServer Server { get; private set; } = null!;
    public LoadedModel Model => ((LoadedModelBackend)Server.ModelBackend).Model;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        string tokenizer = Path.Combine(_dir, "tokenizer");
        Directory.CreateDirectory(tokenizer);
        string fixtures = Path.Combine(AppContext.BaseDirectory, "fixtures", "qwen2-tokenizer");
        using (var gz = new GZipStream(File.OpenRead(Path.Combine(fixtures, "tokenizer.json.gz")), CompressionMode.Decompress))
        using (var f = File.Create(Path.Combine(tokenizer, "tokenizer.json")))
            gz.CopyTo(f);
        File.Copy(Path.Combine(fixtures, "tokenizer_config.json"), Path.Combine(tokenizer, "tokenizer_config.json"));

        var config = new Qwen2Config
        {
            HiddenSize = 64, NumAttentionHeads = 4, NumKeyValueHeads = 2, NumHiddenLayers = 2, IntermediateSize = 128,
            VocabSize = 151936, TieWordEmbeddings = true, MaxPositionEmbeddings = 4096, RopeTheta = 1e6,
            EosTokenIds = [151645], BosTokenId = 151643,
        };
        string gguf = Path.Combine(_dir, "model.gguf");
        RandomModel.WriteGguf(config, gguf, GgmlType.F32, 5, GgufTokenizerExport.FromHuggingFace(tokenizer, config.VocabSize, 151645, 151643));
        var model = LoadedModel.Load(gguf, new EngineOptions { KvCacheBytes = 64 << 20, MaxNumSeqs = 16 });
        Server = await TestServer.StartAsync(backend: new LoadedModelBackend(model, gguf));
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}

public class RealModelTests(RealModelFixture fixture) : IClassFixture<RealModelFixture>
{
    private const string CardSystem = "You are a helpful assistant.";
    private const string CardPrompt = "Tell me something about large language models.";

    [Fact]
    public async Task TheModelCardsCurlRequestWorks()
    {
        // curl http://localhost:8000/v1/chat/completions -H "Content-Type: application/json" -d '{"model": "Qwen2-7B-Instruct",
        //   "messages": [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Tell me something about large language models."}]}'
        var body = new JsonObject
        {
            ["model"] = TestServer.Model,
            ["messages"] = new JsonArray(
                new JsonObject { ["role"] = "system", ["content"] = CardSystem },
                new JsonObject { ["role"] = "user", ["content"] = CardPrompt }),
            ["max_tokens"] = 16,
        };
        var response = await fixture.Server.Http.PostAsJsonAsync("v1/chat/completions", body);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, json.ToJsonString());
        Assert.Equal("assistant", (string?)json["choices"]![0]!["message"]!["role"]);
        Assert.NotNull((string?)json["choices"]![0]!["message"]!["content"]);

        // The prompt is the model's own template, tokenized as Hugging Face does.
        string prompt = $"<|im_start|>system\n{CardSystem}<|im_end|>\n<|im_start|>user\n{CardPrompt}<|im_end|>\n<|im_start|>assistant\n";
        Assert.Equal(fixture.Model.Tokenizer.Encode(prompt).Length, (int)json["usage"]!["prompt_tokens"]!);
        // A GGUF file carries no generation_config.json, so unset values are vLLM's defaults.
        Assert.Equal(1.0, (double)json["sampling_params"]!["temperature"]!, 6);
    }

    [Fact]
    public async Task OpenAiClientStreamsFromTheRealModel()
    {
        var client = new ChatClient(TestServer.Model, new System.ClientModel.ApiKeyCredential("none"),
            new OpenAIClientOptions { Endpoint = new Uri(fixture.Server.BaseUri, "v1") });
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 0 };
        string streamed = "";
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(CardPrompt)], options))
            foreach (var part in update.ContentUpdate) streamed += part.Text;
        var whole = await client.CompleteChatAsync([new UserChatMessage(CardPrompt)], options);
        Assert.Equal(whole.Value.Content[0].Text, streamed);
    }

    [Fact]
    public async Task SixteenConcurrentStreamsEachEqualTheirSoloOutput()
    {
        async Task<string> Complete(int i)
        {
            var body = new JsonObject
            {
                ["model"] = TestServer.Model,
                ["prompt"] = $"Request number {i}: {new string('x', i)}",
                ["max_tokens"] = 10,
                ["temperature"] = 0,
                ["ignore_eos"] = true,
                ["stream"] = true,
            };
            using var response = await fixture.Server.Http.PostAsJsonAsync("v1/completions", body);
            string sse = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, sse);
            Assert.EndsWith("data: [DONE]", sse.TrimEnd());
            return string.Concat(sse.Split('\n').Where(l => l.StartsWith("data: {"))
                .Select(l => (string?)JsonNode.Parse(l[6..])!["choices"]?[0]?["text"] ?? ""));
        }
        var solo = new string[16];
        for (int i = 0; i < 16; i++) solo[i] = await Complete(i);
        var together = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() => Complete(i))));
        Assert.Equal(solo, together);
    }
}
