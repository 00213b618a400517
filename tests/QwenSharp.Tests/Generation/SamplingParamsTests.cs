using System.Text.Json;
using QwenSharp.Formats;
using QwenSharp.Generation;

namespace QwenSharp.Tests.Generation;

public class SamplingParamsTests
{
    private static GenerationConfig Qwen2Config => GenerationConfig.Load(Fixtures.Config("qwen2-7b-instruct.generation_config.json"));

    [Fact]
    public void UnsetValuesComeFromTheGenerationConfig()
    {
        var p = new SamplingParams().Resolve(Qwen2Config);
        Assert.Equal(0.7, p.Temperature);
        Assert.Equal(0.8, p.TopP);
        Assert.Equal(20, p.TopK);
        Assert.Equal(1.05, p.RepetitionPenalty);
        Assert.Equal([151645, 151643], p.EosTokenIds);
        Assert.Equal(0.0, p.MinP);
        Assert.Equal(16, p.MaxTokens); // vLLM's SamplingParams default when nothing sets it
    }

    [Fact]
    public void WithoutConfigTheDefaultsAreVllms()
    {
        // vllm/sampling_params.py defaults.
        var p = new SamplingParams().Resolve();
        Assert.Equal(1.0, p.Temperature);
        Assert.Equal(1.0, p.TopP);
        Assert.Equal(-1, p.TopK);
        Assert.Equal(0.0, p.MinP);
        Assert.Equal(1.0, p.RepetitionPenalty);
        Assert.Equal(0.0, p.PresencePenalty);
        Assert.Equal(0.0, p.FrequencyPenalty);
        Assert.Equal(16, p.MaxTokens);
        Assert.Equal(0, p.MinTokens);
        Assert.Equal(1, p.N);
        Assert.Null(p.Seed);
        Assert.Null(p.Logprobs);
        Assert.True(p.SkipSpecialTokens);
        Assert.False(p.IgnoreEos);
        Assert.False(p.IncludeStopStrInOutput);
        Assert.Empty(p.Stop);
        Assert.Empty(p.EosTokenIds);
    }

    [Fact]
    public void RequestValuesWinOverTheConfig()
    {
        var p = new SamplingParams { Temperature = 1.2, TopK = 5, TopP = 0.5, RepetitionPenalty = 1.0, MaxTokens = 64 }.Resolve(Qwen2Config, defaultMaxTokens: 100);
        Assert.Equal(1.2, p.Temperature);
        Assert.Equal(5, p.TopK);
        Assert.Equal(0.5, p.TopP);
        Assert.Equal(1.0, p.RepetitionPenalty);
        Assert.Equal(64, p.MaxTokens);
    }

    [Fact]
    public void MaxTokensFallsBackToConfigThenCaller()
    {
        var config = new GenerationConfig { MaxNewTokens = 512 };
        Assert.Equal(512, new SamplingParams().Resolve(config, defaultMaxTokens: 100).MaxTokens);
        Assert.Equal(100, new SamplingParams().Resolve(null, defaultMaxTokens: 100).MaxTokens);
    }

    [Fact]
    public void DoSampleFalseMeansGreedyUnlessTemperatureIsGiven()
    {
        var config = new GenerationConfig { DoSample = false, Temperature = 0.7, TopK = 20 };
        var greedy = new SamplingParams().Resolve(config);
        Assert.Equal(0, greedy.Temperature);
        Assert.True(greedy.IsGreedy);
        Assert.Equal(0.5, new SamplingParams { Temperature = 0.5 }.Resolve(config).Temperature);
    }

    [Fact]
    public void GreedySwitchesFiltersOffAsVllm()
    {
        var p = new SamplingParams { Temperature = 0 }.Resolve(Qwen2Config);
        Assert.Equal(-1, p.TopK);
        Assert.Equal(1.0, p.TopP);
        Assert.Equal(0.0, p.MinP);
        Assert.Equal(1.05, p.RepetitionPenalty); // penalties still apply to greedy
    }

    [Fact]
    public void NormalisesLikeVllm()
    {
        var p = new SamplingParams { Temperature = 0.001, TopK = 0, Seed = -1, LogitBias = new Dictionary<int, double> { [3] = 250, [4] = -1e9 } }.Resolve();
        Assert.Equal(0.01, p.Temperature); // vLLM raises temperatures in (0, 0.01) to 0.01
        Assert.Equal(-1, p.TopK);
        Assert.Null(p.Seed);
        Assert.Equal(100, p.LogitBias[3]); // OpenAI's [-100, 100]
        Assert.Equal(-100, p.LogitBias[4]);
    }

    [Fact]
    public void FallbackEosIsUsedOnlyWhenTheConfigHasNone()
    {
        Assert.Equal([7], new SamplingParams().Resolve(null, fallbackEosTokenIds: [7]).EosTokenIds);
        Assert.Equal([151645, 151643], new SamplingParams().Resolve(Qwen2Config, fallbackEosTokenIds: [7]).EosTokenIds);
    }

    public static TheoryData<SamplingParams, string, string> Invalid => new()
    {
        { new SamplingParams { Temperature = -0.5 }, "temperature", "-0.5" },
        { new SamplingParams { Temperature = double.NaN }, "temperature", "NaN" },
        { new SamplingParams { TopP = 0 }, "top_p", "(0, 1]" },
        { new SamplingParams { TopP = 1.5 }, "top_p", "1.5" },
        { new SamplingParams { TopK = -2 }, "top_k", "-2" },
        { new SamplingParams { MinP = 1.1 }, "min_p", "[0, 1]" },
        { new SamplingParams { MinP = -0.1 }, "min_p", "-0.1" },
        { new SamplingParams { RepetitionPenalty = 0 }, "repetition_penalty", "greater than 0" },
        { new SamplingParams { PresencePenalty = 2.5 }, "presence_penalty", "[-2, 2]" },
        { new SamplingParams { FrequencyPenalty = -3 }, "frequency_penalty", "-3" },
        { new SamplingParams { N = 0 }, "n", "at least 1" },
        { new SamplingParams { MaxTokens = 0 }, "max_tokens", "at least 1" },
        { new SamplingParams { MinTokens = -1 }, "min_tokens", "-1" },
        { new SamplingParams { MaxTokens = 5, MinTokens = 6 }, "min_tokens", "max_tokens=5" },
        { new SamplingParams { Logprobs = 21 }, "logprobs", "[0, 20]" },
        { new SamplingParams { Logprobs = -1 }, "logprobs", "-1" },
        { new SamplingParams { Stop = ["ok", ""] }, "stop", "empty" },
        { new SamplingParams { StopTokenIds = [-4] }, "stop_token_ids", "-4" },
        { new SamplingParams { LogitBias = new Dictionary<int, double> { [1] = double.NaN } }, "logit_bias", "NaN" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void InvalidValuesAreRefusedWithNameValueAndRange(SamplingParams request, string parameter, string expected)
    {
        var e = Assert.Throws<SamplingParameterException>(() => request.Resolve());
        Assert.IsAssignableFrom<ArgumentException>(e);
        Assert.Equal(parameter, e.ParamName);
        Assert.StartsWith(parameter, e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain("(Parameter", e.Message);
    }

    [Fact]
    public void InvalidConfigValuesAreRefusedToo()
    {
        var e = Assert.Throws<SamplingParameterException>(() => new SamplingParams().Resolve(new GenerationConfig { TopP = 0 }));
        Assert.Equal("top_p", e.ParamName);
    }

    [Fact]
    public void VocabularyCheckNamesTheId()
    {
        var p = new SamplingParams { LogitBias = new Dictionary<int, double> { [10] = 1 } }.Resolve();
        p.CheckVocabulary(11);
        var e = Assert.Throws<SamplingParameterException>(() => p.CheckVocabulary(10));
        Assert.Contains("10", e.Message);
        var s = new SamplingParams { StopTokenIds = [99] }.Resolve();
        Assert.Equal("stop_token_ids", Assert.Throws<SamplingParameterException>(() => s.CheckVocabulary(50)).ParamName);
        // Ids that name no token (padding rows past the tokenizer) are refused as well.
        var e2 = Assert.Throws<SamplingParameterException>(() => s.CheckVocabulary(200, id => id < 90));
        Assert.Contains("99", e2.Message);
        s.CheckVocabulary(200, id => id < 100);
    }

    [Fact]
    public void ResolvedValuesSerializeWithVllmNames()
    {
        var p = new SamplingParams { Stop = ["\n\n"], Seed = 3, LogitBias = new Dictionary<int, double> { [5] = -2 } }.Resolve(Qwen2Config);
        using var json = JsonDocument.Parse(p.ToJson());
        var root = json.RootElement;
        Assert.Equal(0.7, root.GetProperty("temperature").GetDouble());
        Assert.Equal(20, root.GetProperty("top_k").GetInt32());
        Assert.Equal(0.8, root.GetProperty("top_p").GetDouble());
        Assert.Equal(1.05, root.GetProperty("repetition_penalty").GetDouble());
        Assert.Equal(3, root.GetProperty("seed").GetInt64());
        Assert.Equal("\n\n", root.GetProperty("stop")[0].GetString());
        Assert.Equal(151645, root.GetProperty("eos_token_ids")[0].GetInt32());
        Assert.Equal(-2, root.GetProperty("logit_bias").GetProperty("5").GetDouble());
        Assert.True(root.GetProperty("skip_special_tokens").GetBoolean());
        Assert.False(root.TryGetProperty("is_greedy", out _));
    }

    [Fact]
    public void ReadsVllmStyleJson()
    {
        var p = SamplingParams.FromJson("""{"temperature": 0.2, "top_k": 5, "stop": ["\n"], "logit_bias": {"42": -5}, "max_tokens": 9, "ignore_eos": true, "stop_token_ids": [7]}""");
        Assert.Equal(0.2, p.Temperature);
        Assert.Equal(5, p.TopK);
        Assert.Equal(["\n"], p.Stop!);
        Assert.Equal(-5, p.LogitBias![42]);
        Assert.Equal(9, p.MaxTokens);
        Assert.True(p.IgnoreEos);
        Assert.Equal([7], p.StopTokenIds!);
        Assert.Null(p.TopP);
    }

    [Fact]
    public void BadJsonIsAFormatException()
    {
        Assert.Throws<FormatException>(() => SamplingParams.FromJson("{\"temperature\": \"hot\"}"));
        Assert.Throws<FormatException>(() => SamplingParams.FromJson("{"));
    }
}
