using System.Text;
using QwenSharp.Hub;

namespace QwenSharp.Tests.Hub;

/// <summary>Small random models in the shapes real Qwen repos have, and options pointing at temp folders.</summary>
public static class HubTestModels
{
    public const string Commit = "0123456789abcdef0123456789abcdef01234567";

    public static byte[] Random(int length, int seed, bool gguf = false)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        if (gguf) "GGUF"u8.CopyTo(data);
        return data;
    }

    /// <summary>A safetensors repo like Qwen/Qwen2-7B-Instruct: sharded weights with an index, config,
    /// tokenizer files, plus files a model does not need (README, a .bin copy, an unindexed extra shard).</summary>
    public static FakeHubServer.Repo Safetensors(string id = "Qwen/Tiny-Instruct", string commit = Commit)
    {
        var shard1 = Random(200_000, 1);
        var shard2 = Random(150_000, 2);
        string index = """{"metadata":{"total_size":350000},"weight_map":{"model.embed_tokens.weight":"model-00001-of-00002.safetensors","lm_head.weight":"model-00002-of-00002.safetensors","model.norm.weight":"model-00002-of-00002.safetensors"}}""";
        return new FakeHubServer.Repo(id, commit, new Dictionary<string, byte[]>
        {
            ["config.json"] = Encoding.UTF8.GetBytes("""{"architectures":["Qwen2ForCausalLM"],"hidden_size":64}"""),
            ["generation_config.json"] = Encoding.UTF8.GetBytes("""{"do_sample":true,"top_p":0.8}"""),
            ["tokenizer.json"] = Random(5_000, 3),
            ["tokenizer_config.json"] = Encoding.UTF8.GetBytes("""{"model_max_length":32768}"""),
            ["vocab.json"] = Encoding.UTF8.GetBytes("""{"a":0}"""),
            ["merges.txt"] = Encoding.UTF8.GetBytes("#version: 0.2\n"),
            ["model.safetensors.index.json"] = Encoding.UTF8.GetBytes(index),
            ["model-00001-of-00002.safetensors"] = shard1,
            ["model-00002-of-00002.safetensors"] = shard2,
            ["README.md"] = Encoding.UTF8.GetBytes("# Tiny\n"),
            ["pytorch_model.bin"] = Random(1000, 4),
            [".gitattributes"] = Encoding.UTF8.GetBytes("*.safetensors filter=lfs\n"),
        });
    }

    /// <summary>A GGUF repo like Qwen/Qwen2-7B-Instruct-GGUF: several quantizations, one of them split.</summary>
    public static FakeHubServer.Repo Gguf(string id = "Qwen/Tiny-Instruct-GGUF", string commit = Commit, int size = 400_000) =>
        new(id, commit, new Dictionary<string, byte[]>
        {
            ["tiny-instruct-q4_k_m.gguf"] = Random(size, 10, gguf: true),
            ["tiny-instruct-q4_k_s.gguf"] = Random(1000, 11, gguf: true),
            ["tiny-instruct-q8_0.gguf"] = Random(2000, 12, gguf: true),
            ["tiny-instruct-fp16-00001-of-00002.gguf"] = Random(1500, 13, gguf: true),
            ["tiny-instruct-fp16-00002-of-00002.gguf"] = Random(1500, 14),
            ["README.md"] = Encoding.UTF8.GetBytes("# Tiny GGUF\n"),
        });

    public static HubOptions Options(TempDir dir, FakeHubServer? server = null) => new()
    {
        HfCacheDir = Path.Combine(dir.Path, "hf", "hub"),
        HfEndpoint = server?.Endpoint ?? "http://127.0.0.1:9",
        ModelScopeEndpoint = server?.Endpoint ?? "http://127.0.0.1:9",
        OllamaRegistryEndpoint = server?.Endpoint ?? "http://127.0.0.1:9",
        ModelScopeCacheDir = Path.Combine(dir.Path, "modelscope"),
        OllamaModelDirs = [Path.Combine(dir.Path, "ollama")],
        DownloadRetries = 3,
    };
}
