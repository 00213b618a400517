using System.Text.Json.Nodes;
using static QwenSharp.Server.Tests.HttpApi;

namespace QwenSharp.Server.Tests;

/// <summary>Sampling fields through the real engine (the random GGUF of <see cref="RealModelFixture"/>): logprobs in
/// OpenAI's shape, n seeded choices reproducible, ids outside the vocabulary refused, metrics from the engine.</summary>
public class RealModelParameterTests(RealModelFixture fixture) : IClassFixture<RealModelFixture>
{
    private HttpClient Http => fixture.Server.Http;

    [Fact]
    public async Task Logprobs_and_seeded_choices_come_from_the_engine()
    {
        const string request = """{"messages":[{"role":"user","content":"hi"}],"max_tokens":4,"ignore_eos":true,"logprobs":true,"top_logprobs":3,"n":2,"seed":42}""";
        var (status, body) = await PostAsync(Http, "v1/chat/completions", request);
        Assert.True(status == 200, body?.ToJsonString());
        var choices = body!["choices"]!.AsArray();
        Assert.Equal(2, choices.Count);
        foreach (var choice in choices)
        {
            var content = choice!["logprobs"]!["content"]!.AsArray();
            Assert.Equal(4, content.Count);
            foreach (var entry in content)
            {
                Assert.True((double)entry!["logprob"]! <= 0);
                var top = entry["top_logprobs"]!.AsArray();
                Assert.Equal(3, top.Count);
                // Alternatives come most likely first, and the chosen token is never likelier than the best one.
                Assert.True((double)top[0]!["logprob"]! >= (double)top[2]!["logprob"]!);
                Assert.True((double)top[0]!["logprob"]! >= (double)entry["logprob"]! - 1e-6);
                Assert.NotEmpty(entry["bytes"]!.AsArray()); // UTF-8 bytes of the token, as integers
            }
        }
        Assert.Equal(42, (long)body["sampling_params"]!["seed"]!);

        var (_, again) = await PostAsync(Http, "v1/chat/completions", request);
        Assert.Equal(choices.Select(c => (string)c!["message"]!["content"]!),
            again!["choices"]!.AsArray().Select(c => (string)c!["message"]!["content"]!));
    }

    [Fact]
    public async Task Token_ids_outside_the_vocabulary_are_refused()
    {
        var (status, body) = await PostAsync(Http, "v1/chat/completions", """{"messages":[{"role":"user","content":"hi"}],"logit_bias":{"999999":1}}""");
        Assert.Equal(400, status);
        AssertError(body, 400, "logit_bias", "999999", "0 to 151645");
        (status, body) = await PostAsync(Http, "detokenize", """{"tokens":[999999]}""");
        AssertError(body, 400, "tokens", "999999");
        // Ids between the tokenizer's 151,646 and the embedding's 151,936 rows are padding, not tokens.
        (status, body) = await PostAsync(Http, "v1/completions", """{"prompt":"hi","stop_token_ids":[151700]}""");
        Assert.Equal(400, status);
        AssertError(body, 400, "stop_token_ids", "151700", "0 to 151645");
        (status, body) = await PostAsync(Http, "api/generate", """{"model":"Qwen2-7B-Instruct","prompt":"hi","raw":true,"stream":false,"context":[151700]}""");
        Assert.Equal(400, status);
        Assert.Contains("151700", (string?)body!["error"]);
        Assert.Contains("context", (string?)body!["error"]);
    }

    [Fact]
    public async Task Metrics_count_the_engines_tokens()
    {
        await PostAsync(Http, "v1/completions", """{"prompt":"count me","max_tokens":3,"ignore_eos":true}""");
        string metrics = await Http.GetStringAsync("metrics");
        long Value(string name) => long.Parse(metrics.Split('\n')
            .Single(l => l.StartsWith($"qwensharp:{name}{{model_name=\"{TestServer.Model}\"}} ", StringComparison.Ordinal)).Split(' ')[1]);
        Assert.True(Value("generation_tokens_total") >= 3);
        Assert.True(Value("prefix_cache_queries_total") >= 2);
    }
}
