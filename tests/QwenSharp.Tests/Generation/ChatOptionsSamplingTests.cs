using Microsoft.Extensions.AI;
using QwenSharp.Formats;
using QwenSharp.Generation;

namespace QwenSharp.Tests.Generation;

public class ChatOptionsSamplingTests
{
    [Fact]
    public void MapsChatOptionsToVllmNames()
    {
        var options = new ChatOptions
        {
            Temperature = 0.7f, TopP = 0.9f, TopK = 40, MaxOutputTokens = 128, StopSequences = ["###"], Seed = 5,
            FrequencyPenalty = 0.5f, PresencePenalty = -0.25f,
            AdditionalProperties = new() { ["min_p"] = 0.05, ["repetition_penalty"] = 1.1, ["min_tokens"] = 3, ["ignore_eos"] = true },
        };
        var p = options.ToSamplingParams().Resolve();
        Assert.Equal(0.7, p.Temperature);
        Assert.Equal(0.9, p.TopP);
        Assert.Equal(40, p.TopK);
        Assert.Equal(128, p.MaxTokens);
        Assert.Equal(["###"], p.Stop);
        Assert.Equal(5, p.Seed);
        Assert.Equal(0.5, p.FrequencyPenalty);
        Assert.Equal(-0.25, p.PresencePenalty);
        Assert.Equal(0.05, p.MinP);
        Assert.Equal(1.1, p.RepetitionPenalty);
        Assert.Equal(3, p.MinTokens);
        Assert.True(p.IgnoreEos);
    }

    [Fact]
    public void UnsetOptionsLeaveTheModelDefaults()
    {
        var config = GenerationConfig.Load(Fixtures.Config("qwen2-7b-instruct.generation_config.json"));
        var p = new ChatOptions { MaxOutputTokens = 10 }.ToSamplingParams().Resolve(config);
        Assert.Equal(0.7, p.Temperature);
        Assert.Equal(20, p.TopK);
        Assert.Equal(10, p.MaxTokens);
        Assert.Equal(0.8, ((ChatOptions?)null).ToSamplingParams().Resolve(config).TopP);
    }

    [Fact]
    public void OutOfRangeOptionsAreRefused()
    {
        var e = Assert.Throws<SamplingParameterException>(() => new ChatOptions { TopP = 1.5f }.ToSamplingParams().Resolve());
        Assert.Equal("top_p", e.ParamName);
        Assert.Throws<SamplingParameterException>(() => new ChatOptions { Temperature = float.NaN }.ToSamplingParams().Resolve());
    }
}
