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

    /// <summary>Total and activated sizes as the MoE model cards state them: Qwen1.5-MoE-A2.7B "14.3B total, 2.7B
    /// activated", Qwen2-57B-A14B "57B total (57.4B on its page), 14B activated".</summary>
    [Theory]
    [InlineData("qwen1.5-moe-a2.7b.json", "14.3B", 2.7)]
    [InlineData("qwen2-57b-a14b-instruct.json", "57.4B", 14.2)]
    public void MoeCountsMatchTheModelCards(string config, string label, double activeBillions)
    {
        var c = Qwen2Config.FromFile(Fixtures.Config(config));
        Assert.Equal(label, c.SizeLabel);
        Assert.Equal(activeBillions, Math.Round(c.ActiveParameterCount / 1e9, 1));
    }
}
