using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using QwenSharp.Engine;
using QwenSharp.Formats;
using QwenSharp.Generation;
using QwenSharp.Model;
using QwenSharp.Server.Backend;
using QwenSharp.Tensors;
using static QwenSharp.Server.Tests.HttpApi;

namespace QwenSharp.Server.Tests;

/// <summary>
/// The server over the real continuous-batching engine and a small random-weight Qwen2 model (the shape of
/// the engine's own tests), with a byte tokenizer: ids 0..255 are bytes, the rest special tokens.
/// </summary>
public sealed class EngineBackendTests
{
    private static readonly Qwen2Config Config = new()
    {
        Origin = "server-test",
        HiddenSize = 64, NumAttentionHeads = 4, NumKeyValueHeads = 2, NumHiddenLayers = 2, IntermediateSize = 128,
        VocabSize = 320, TieWordEmbeddings = true, MaxPositionEmbeddings = 1024, RopeTheta = 1000000.0, RmsNormEps = 1e-6,
        EosTokenIds = [319], BosTokenId = 319,
    };

    private static async Task<TestServer> StartAsync()
    {
        string path = Path.Combine(Path.GetTempPath(), $"qwensharp-server-test-{Environment.ProcessId}.gguf");
        if (!File.Exists(path)) RandomModel.WriteGguf(Config, path, GgmlType.F32, 11, GgufTokenizerExport.BytesOnly(Config.VocabSize));
        var model = ModelFiles.Load(path);
        var engine = new InferenceEngine(model, skip => new ByteDecoder(skip), new EngineOptions { MaxNumSeqs = 16, KvCacheBytes = 8L << 20 });
        var backend = new EngineBackend(engine, new ByteText(), null, "random", new BackendModelInfo());
        return await TestServer.StartAsync(backend: backend);
    }

    [Fact]
    public async Task Sixteen_simultaneous_greedy_streams_each_equal_their_answer_alone()
    {
        await using var server = await StartAsync();
        string Request(int i, bool stream) =>
            $$"""{"messages":[{"role":"user","content":"{{i}}{{new string((char)('a' + i), i % 3 + 1)}}"}],"max_tokens":{{3 + i % 2}},"temperature":0,"ignore_eos":true,"stream":{{(stream ? "true" : "false")}}}""";

        var alone = new string[16];
        for (int i = 0; i < 16; i++)
        {
            var (status, body) = await PostAsync(server.Http, "v1/chat/completions", Request(i, false));
            Assert.Equal(200, status);
            Assert.Equal(3 + i % 2, (int)body!["usage"]!["completion_tokens"]!);
            Assert.Equal(0.0, (double)body["sampling_params"]!["temperature"]!);
            alone[i] = (string)body["choices"]![0]!["message"]!["content"]!;
        }
        var together = await Task.WhenAll(Enumerable.Range(0, 16).Select(async i =>
        {
            var (events, _, _) = await PostSseAsync(server.Http, "v1/chat/completions", Request(i, true));
            Assert.Equal("[DONE]", events[^1]);
            return string.Concat(events[..^1].Select(e => (string?)JsonNode.Parse(e)!["choices"]!.AsArray().FirstOrDefault()?["delta"]?["content"]));
        }));
        Assert.Equal(alone, together);
    }

    [Fact]
    public async Task Logprobs_seeds_refusals_and_metrics_come_from_the_engine()
    {
        await using var server = await StartAsync();
        var (status, body) = await PostAsync(server.Http, "v1/chat/completions",
            """{"messages":[{"role":"user","content":"hi"}],"max_tokens":4,"ignore_eos":true,"logprobs":true,"top_logprobs":3,"n":2,"seed":42}""");
        Assert.Equal(200, status);
        foreach (var choice in body!["choices"]!.AsArray())
        {
            var content = choice!["logprobs"]!["content"]!.AsArray();
            Assert.Equal(4, content.Count);
            Assert.All(content, c => Assert.Equal(3, c!["top_logprobs"]!.AsArray().Count));
            Assert.All(content, c => Assert.True((double)c!["logprob"]! <= 0));
        }
        Assert.Equal(42, (long)body["sampling_params"]!["seed"]!);
        var (_, again) = await PostAsync(server.Http, "v1/chat/completions",
            """{"messages":[{"role":"user","content":"hi"}],"max_tokens":4,"ignore_eos":true,"n":2,"seed":42}""");
        Assert.Equal(body["choices"]!.AsArray().Select(c => (string)c!["message"]!["content"]!),
            again!["choices"]!.AsArray().Select(c => (string)c!["message"]!["content"]!)); // seeded: reproducible

        (status, body) = await PostAsync(server.Http, "v1/chat/completions", """{"messages":[{"role":"user","content":"hi"}],"logit_bias":{"400":1}}""");
        Assert.Equal(400, status);
        AssertError(body, 400, "logit_bias", "400", "320");

        string metrics = await server.Http.GetStringAsync("metrics");
        Assert.Contains("qwensharp:prefix_cache_queries_total{model_name=\"Qwen2-7B-Instruct\"}", metrics);
    }

    private const string ChatMl =
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}" +
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

    [Fact]
    public async Task The_factory_serves_a_GGUF_file_with_its_own_tokenizer_and_template()
    {
        string path = Path.Combine(Path.GetTempPath(), $"qwensharp-server-factory-{Environment.ProcessId}.gguf");
        // One merge ("a b" → "ab", id 256): MergeTable indexes out of range when a vocabulary has no merges at all.
        var bytes = GgufTokenizerExport.BytesOnly(Config.VocabSize);
        bytes.Tokens[256] = "ab";
        bytes.TokenTypes[256] = GgufTokenizerExport.Normal;
        var tokenizer = new GgufTokenizerExport
        {
            Tokens = bytes.Tokens, TokenTypes = bytes.TokenTypes, Merges = ["a b"], ChatTemplate = ChatMl,
            EosTokenId = bytes.EosTokenId, BosTokenId = bytes.BosTokenId, PaddingTokenId = bytes.PaddingTokenId,
        };
        RandomModel.WriteGguf(Config, path, GgmlType.F32, 5, tokenizer);
        try
        {
            var backend = ModelBackendFactory.Create(new ServerOptions { Model = path, MaxModelLen = 256, MaxNumSeqs = 4 });
            await using var server = await TestServer.StartAsync(backend: backend);
            Assert.Equal(256, backend.MaxModelLength);
            const string rendered = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
            var (status, body) = await PostAsync(server.Http, "tokenize", """{"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hi"}]}""");
            Assert.True(status == 200, body?.ToJsonString() + string.Join("\n", server.Logs.Lines));
            Assert.Equal(rendered.Length, (int)body!["count"]!); // one token per byte: the text has no "ab"

            (status, body) = await PostAsync(server.Http, "v1/chat/completions",
                """{"model":"Qwen2-7B-Instruct","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hi"}],"temperature":0.7,"top_p":0.8,"repetition_penalty":1.05,"max_tokens":5,"seed":1}""");
            Assert.True(status == 200, body?.ToJsonString());
            Assert.Equal(rendered.Length, (int)body!["usage"]!["prompt_tokens"]!);
            Assert.InRange((int)body["usage"]!["completion_tokens"]!, 1, 5);
            Assert.Equal(0.7, (double)body["sampling_params"]!["temperature"]!);

            (status, body) = await PostAsync(server.Http, "v1/completions", """{"prompt":"x","max_tokens":300}""");
            AssertError(body, 400, "max_tokens", "256");
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A byte tokenizer over Qwen2's ChatML shape: ids 0..255 are bytes, 256.. are special tokens.</summary>
    private sealed class ByteText : IModelText
    {
        public IReadOnlyList<int> EosTokenIds => [319];

        public string RenderChat(string messagesJson, string? toolsJson, bool addGenerationPrompt, IReadOnlyDictionary<string, JsonElement>? extraVariables)
        {
            var sb = new StringBuilder();
            foreach (var m in JsonNode.Parse(messagesJson)!.AsArray())
                sb.Append("<|im_start|>").Append((string)m!["role"]!).Append('\n').Append((string?)m["content"]).Append("<|im_end|>\n");
            if (addGenerationPrompt) sb.Append("<|im_start|>assistant\n");
            return sb.ToString();
        }

        public int[] Encode(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();

        public string Decode(ReadOnlySpan<int> ids)
        {
            var bytes = new List<byte>();
            foreach (int id in ids) bytes.AddRange(TokenBytes(id));
            return Encoding.UTF8.GetString(bytes.ToArray());
        }

        public byte[] TokenBytes(int id) => id < 256 ? [(byte)id] : Encoding.UTF8.GetBytes($"<|special_{id}|>");
    }

    /// <summary>Whole UTF-8 characters only, special tokens skipped or written out.</summary>
    private sealed class ByteDecoder(bool skipSpecialTokens) : IIncrementalDecoder
    {
        private readonly List<byte> _pending = new();

        public string Push(int tokenId)
        {
            if (tokenId >= 256) return skipSpecialTokens ? "" : $"<|special_{tokenId}|>";
            _pending.Add((byte)tokenId);
            var bytes = _pending.ToArray();
            int complete = CompletePrefix(bytes);
            string s = Encoding.UTF8.GetString(bytes, 0, complete);
            _pending.RemoveRange(0, complete);
            return s;
        }

        public string Flush()
        {
            string s = Encoding.UTF8.GetString(_pending.ToArray());
            _pending.Clear();
            return s;
        }

        // The longest prefix that does not end inside a multi-byte character (invalid bytes count as complete).
        private static int CompletePrefix(byte[] b)
        {
            for (int back = 1; back <= Math.Min(3, b.Length); back++)
            {
                byte x = b[^back];
                if ((x & 0xC0) != 0x80)
                {
                    int need = x >= 0xF0 ? 4 : x >= 0xE0 ? 3 : x >= 0xC0 ? 2 : 1;
                    return need > back ? b.Length - back : b.Length;
                }
            }
            return b.Length;
        }
    }
}
