using QwenSharp.Formats;

namespace QwenSharp.Tests.Generation;

public class GenerationConfigTests
{
    [Fact]
    public void ReadsQwen2InstructGenerationConfig()
    {
        // Values as published in Qwen/Qwen2-7B-Instruct's generation_config.json.
        var config = GenerationConfig.Load(Fixtures.Config("qwen2-7b-instruct.generation_config.json"));
        Assert.Equal(0.7, config.Temperature);
        Assert.Equal(0.8, config.TopP);
        Assert.Equal(20, config.TopK);
        Assert.Equal(1.05, config.RepetitionPenalty);
        Assert.True(config.DoSample);
        Assert.Equal([151645, 151643], config.EosTokenIds);
        Assert.Equal(151643, config.BosTokenId);
        Assert.Equal(151643, config.PadTokenId);
        Assert.Null(config.MinP);
        Assert.Null(config.MaxNewTokens);
        Assert.Null(config.MaxLength);
    }

    [Fact]
    public void EosMayBeASingleIntegerAndNullsAreUnset()
    {
        var config = GenerationConfig.Parse("""{"eos_token_id": 2, "temperature": null, "max_new_tokens": 512, "max_length": 32768, "min_p": 0, "transformers_version": "4.40"}""", "x.json");
        Assert.Equal([2], config.EosTokenIds);
        Assert.Null(config.Temperature);
        Assert.Equal(512, config.MaxNewTokens);
        Assert.Equal(32768, config.MaxLength);
        Assert.Equal(0.0, config.MinP);
    }

    [Fact]
    public void MalformedJsonNamesTheFile()
    {
        using var dir = Fixtures.TempDir();
        string path = dir.File("generation_config.json");
        File.WriteAllText(path, "{\"temperature\": 0.7,,");
        var e = Assert.Throws<FormatException>(() => GenerationConfig.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Theory]
    [InlineData("""{"temperature": "hot"}""", "temperature")]
    [InlineData("""{"top_k": 2.5}""", "top_k")]
    [InlineData("""{"eos_token_id": [1, "x"]}""", "eos_token_id")]
    [InlineData("""{"do_sample": 1}""", "do_sample")]
    [InlineData("""[1, 2]""", "object")]
    public void WrongTypesNameTheFileAndKey(string json, string expected)
    {
        var e = Assert.Throws<FormatException>(() => GenerationConfig.Parse(json, "model/generation_config.json"));
        Assert.Contains("model/generation_config.json", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void FromModelFolderIsNullWithoutTheFile()
    {
        using var dir = Fixtures.TempDir();
        Assert.Null(GenerationConfig.FromModelFolder(dir.Path));
        File.WriteAllText(dir.File("generation_config.json"), """{"top_k": 40}""");
        Assert.Equal(40, GenerationConfig.FromModelFolder(dir.Path)!.TopK);
    }
}
