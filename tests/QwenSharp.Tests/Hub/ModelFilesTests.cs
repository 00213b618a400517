using QwenSharp.Hub;

namespace QwenSharp.Tests.Hub;

/// <summary>Which files of a repo are fetched, on file lists shaped like the real Qwen repos.</summary>
public class ModelFilesTests
{
    // Qwen/Qwen2-7B-Instruct-GGUF's files (2024): one file per quantization, fp16 split in two.
    private static readonly string[] QwenGguf =
    [
        ".gitattributes", "LICENSE", "README.md",
        "qwen2-7b-instruct-fp16-00001-of-00002.gguf", "qwen2-7b-instruct-fp16-00002-of-00002.gguf",
        "qwen2-7b-instruct-q2_k.gguf", "qwen2-7b-instruct-q3_k_m.gguf", "qwen2-7b-instruct-q4_0.gguf",
        "qwen2-7b-instruct-q4_k_m.gguf", "qwen2-7b-instruct-q5_0.gguf", "qwen2-7b-instruct-q5_k_m.gguf",
        "qwen2-7b-instruct-q6_k.gguf", "qwen2-7b-instruct-q8_0.gguf",
    ];

    [Theory]
    [InlineData("q4_k_m", "qwen2-7b-instruct-q4_k_m.gguf")]
    [InlineData("Q4_K_M", "qwen2-7b-instruct-q4_k_m.gguf")]
    [InlineData("q4_0", "qwen2-7b-instruct-q4_0.gguf")]
    [InlineData("q8_0", "qwen2-7b-instruct-q8_0.gguf")]
    [InlineData("*q6_k*", "qwen2-7b-instruct-q6_k.gguf")]
    [InlineData("qwen2-7b-instruct-q5_0.gguf", "qwen2-7b-instruct-q5_0.gguf")]
    public void Pattern_PicksOneFile(string pattern, string expected)
    {
        var s = ModelFiles.Select("Qwen/Qwen2-7B-Instruct-GGUF", QwenGguf, pattern);
        Assert.Equal(expected, s.Gguf);
        Assert.Equal([expected], s.Files);
    }

    [Fact]
    public void Pattern_ForASplitFile_TakesAllParts()
    {
        var s = ModelFiles.Select("Qwen/Qwen2-7B-Instruct-GGUF", QwenGguf, "fp16");
        Assert.Equal("qwen2-7b-instruct-fp16-00001-of-00002.gguf", s.Gguf);
        Assert.Equal(2, s.Files.Count);
    }

    [Fact]
    public void NoPattern_InAGgufRepo_PrefersQ4KM_AsOllamaDoes() =>
        Assert.Equal("qwen2-7b-instruct-q4_k_m.gguf", ModelFiles.Select("r/x", QwenGguf, null).Gguf);

    [Fact]
    public void AmbiguousPattern_ListsTheCandidates()
    {
        var e = Assert.Throws<HubException>(() => ModelFiles.Select("Qwen/Qwen2-7B-Instruct-GGUF", QwenGguf, "q5"));
        Assert.Contains("qwen2-7b-instruct-q5_0.gguf", e.Message);
        Assert.Contains("qwen2-7b-instruct-q5_k_m.gguf", e.Message);
    }

    [Fact]
    public void SafetensorsRepo_TakesConfigTokenizerAndWeights_NotTheRest()
    {
        string[] files = ["config.json", "generation_config.json", "merges.txt", "model.safetensors", "tokenizer.json",
            "tokenizer_config.json", "vocab.json", "README.md", "LICENSE", "onnx/model.onnx", ".gitattributes"];
        var s = ModelFiles.Select("Qwen/Qwen2-0.5B-Instruct", files, null);
        Assert.Null(s.Gguf);
        Assert.Equal(["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "model.safetensors"], s.Files);
    }

    [Fact]
    public void RepoWithoutModel_IsRefused() =>
        Assert.Contains("neither config.json", Assert.Throws<HubException>(() => ModelFiles.Select("a/b", ["README.md", "data.csv"], null)).Message);
}
