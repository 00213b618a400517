using QwenSharp.Model;

namespace QwenSharp.Tests.Model;

/// <summary>Parameter counts from the config against the Hugging Face model pages (safetensors totals).</summary>
public class ParameterCountTests
{
    [Theory]
    [InlineData("qwen2-0.5b-instruct.json", 494_032_768L, "494M")]
    [InlineData("qwen2-7b-instruct.json", 7_615_616_512L, "7.6B")]
    public void CountsMatchTheModelPages(string config, long expected, string label)
    {
        var c = Qwen2Config.FromFile(Fixtures.Config(config));
        Assert.Equal(expected, c.ParameterCount);
        Assert.Equal(label, c.SizeLabel);
    }
}
