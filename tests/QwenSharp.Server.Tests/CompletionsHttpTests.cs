using System.Text.Json.Nodes;
using static QwenSharp.Server.Tests.HttpApi;

namespace QwenSharp.Server.Tests;

/// <summary>/v1/completions (legacy shape), /tokenize, /detokenize, /v1/models, /health, /version, /metrics.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class CompletionsHttpTests(SharedServer shared)
{
    private HttpClient Http => shared.Server.Http;

    [Fact]
    public async Task A_text_prompt_completes_with_vLLMs_default_of_16_tokens()
    {
        const string prompt = "Once upon a time, in a land far away";
        var (status, body) = await PostAsync(Http, "v1/completions", $$"""{"model":"Qwen2-7B-Instruct","prompt":{{Escape(prompt)}}}""");
        Assert.Equal(200, status);
        Assert.Equal("text_completion", (string)body!["object"]!);
        Assert.StartsWith("cmpl-", (string)body["id"]!);
        var choice = body["choices"]![0]!;
        Assert.Equal(FakeBackend.Reply(prompt, 16), (string)choice["text"]!);
        Assert.Equal("length", (string)choice["finish_reason"]!);
        Assert.Equal(prompt.Length, (int)body["usage"]!["prompt_tokens"]!);
        Assert.NotNull(body["usage"]!["prompt_tokens_details"]!["cached_tokens"]);
    }

    [Fact]
    public async Task Batched_prompts_and_n_give_choice_p_times_n_plus_i()
    {
        var (_, body) = await PostAsync(Http, "v1/completions", """{"prompt":["abcdef","uvwxyz"],"n":2,"seed":1,"max_tokens":3}""");
        var choices = body!["choices"]!.AsArray();
        Assert.Equal(4, choices.Count);
        string[] expected = [FakeBackend.Reply("abcdef", 3, 1), FakeBackend.Reply("abcdef", 3, 2), FakeBackend.Reply("uvwxyz", 3, 1), FakeBackend.Reply("uvwxyz", 3, 2)];
        Assert.Equal(expected, choices.Select(c => (string)c!["text"]!));
        Assert.Equal([0, 1, 2, 3], choices.Select(c => (int)c!["index"]!));
        Assert.Equal(12, (int)body["usage"]!["prompt_tokens"]!); // each prompt once
    }

    [Fact]
    public async Task Token_id_prompts_echo_and_stop_strings()
    {
        var (_, body) = await PostAsync(Http, "v1/completions", """{"prompt":[72,105,33],"max_tokens":2,"echo":true}""");
        Assert.Equal("Hi!Hi", (string)body!["choices"]![0]!["text"]!);

        (_, body) = await PostAsync(Http, "v1/completions", """{"prompt":"stop here please","max_tokens":50,"stop":[" here"]}""");
        var choice = body!["choices"]![0]!;
        Assert.Equal("stop", (string)choice["text"]!);
        Assert.Equal("stop", (string)choice["finish_reason"]!);
        Assert.Equal(" here", (string)choice["stop_reason"]!);

        (_, body) = await PostAsync(Http, "v1/completions", """{"prompt":"stop here please","max_tokens":50,"stop":[" here"],"include_stop_str_in_output":true}""");
        Assert.Equal("stop here", (string)body!["choices"]![0]!["text"]!);
    }

    [Fact]
    public async Task Logprobs_come_back_in_the_legacy_shape()
    {
        var (_, body) = await PostAsync(Http, "v1/completions", """{"prompt":"wxyz","max_tokens":3,"logprobs":2}""");
        var lp = body!["choices"]![0]!["logprobs"]!;
        Assert.Equal(["w", "x", "y"], lp["tokens"]!.AsArray().Select(t => (string)t!));
        Assert.Equal([-0.1, -0.35, -0.6], lp["token_logprobs"]!.AsArray().Select(t => Math.Round((double)t!, 9)));
        Assert.Equal([0, 1, 2], lp["text_offset"]!.AsArray().Select(t => (int)t!));
        var top = lp["top_logprobs"]!.AsArray();
        Assert.Equal(3, top.Count);
        Assert.Equal(-0.1, (double)top[0]!["w"]!, 9);
        Assert.Equal(-1.1, (double)top[0]!["x"]!, 9);
    }

    [Fact]
    public async Task Streaming_completions_end_with_DONE_and_add_up()
    {
        var (events, _, type) = await PostSseAsync(Http, "v1/completions", """{"prompt":"streaming text","max_tokens":9,"stream":true,"stream_options":{"include_usage":true}}""");
        Assert.Equal("text/event-stream", type);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(Json).ToList();
        Assert.Equal(9, (int)chunks[^1]["usage"]!["completion_tokens"]!);
        Assert.Equal("streaming", string.Concat(chunks[..^1].Select(c => (string?)c["choices"]![0]!["text"])));
        Assert.Equal("length", (string)chunks[^2]["choices"]![0]!["finish_reason"]!);
    }

    [Fact]
    public async Task Tokenize_and_detokenize_round_trip()
    {
        var (status, body) = await PostAsync(Http, "tokenize", """{"model":"Qwen2-7B-Instruct","prompt":"Hello","return_token_strs":true}""");
        Assert.Equal(200, status);
        Assert.Equal([72, 101, 108, 108, 111], body!["tokens"]!.AsArray().Select(t => (int)t!));
        Assert.Equal(5, (int)body["count"]!);
        Assert.Equal(4096, (int)body["max_model_len"]!);
        Assert.Equal(["H", "e", "l", "l", "o"], body["token_strs"]!.AsArray().Select(t => (string)t!));

        (_, body) = await PostAsync(Http, "tokenize", """{"messages":[{"role":"user","content":"Hi"}]}""");
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n".Length, (int)body!["count"]!);

        (status, body) = await PostAsync(Http, "detokenize", """{"tokens":[72,105]}""");
        Assert.Equal(200, status);
        Assert.Equal("Hi", (string)body!["prompt"]!);
        (status, body) = await PostAsync(Http, "detokenize", """{"tokens":[-1]}""");
        AssertError(body, 400, "tokens", "vocabulary");
    }

    [Fact]
    public async Task Models_health_and_version()
    {
        var models = Json(await Http.GetStringAsync("v1/models"));
        Assert.Equal("list", (string)models["object"]!);
        var card = models["data"]![0]!;
        Assert.Equal(TestServer.Model, (string)card["id"]!);
        Assert.Equal("model", (string)card["object"]!);
        Assert.Equal(4096, (int)card["max_model_len"]!);
        using var health = await Http.GetAsync("health");
        Assert.Equal(200, (int)health.StatusCode);
        Assert.False(string.IsNullOrEmpty((string?)Json(await Http.GetStringAsync("version"))["version"]));
    }

    [Fact]
    public async Task Metrics_are_prometheus_text_with_qwensharp_names()
    {
        await PostAsync(Http, "v1/completions", """{"prompt":"metrics please","max_tokens":4}""");
        using var response = await Http.GetAsync("metrics");
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        string text = await response.Content.ReadAsStringAsync();
        const string labels = "{model_name=\"Qwen2-7B-Instruct\"}";
        foreach (var name in new[] { "num_requests_running", "num_requests_waiting", "kv_cache_usage_perc", "prefix_cache_queries_total", "prefix_cache_hits_total" })
            Assert.Contains($"qwensharp:{name}{labels} ", text);
        Assert.Contains("# TYPE qwensharp:time_to_first_token_seconds histogram", text);
        Assert.Contains("# TYPE qwensharp:inter_token_latency_seconds histogram", text);
        Assert.Contains("qwensharp:time_to_first_token_seconds_bucket{model_name=\"Qwen2-7B-Instruct\",le=\"+Inf\"}", text);
        long Value(string name) => long.Parse(text.Split('\n').Single(l => l.StartsWith($"qwensharp:{name}{labels} ", StringComparison.Ordinal)).Split(' ')[1]);
        Assert.True(Value("generation_tokens_total") >= 4);
        Assert.True(Value("prompt_tokens_total") >= "metrics please".Length);
        Assert.True(Value("time_to_first_token_seconds_count") >= 1);
        Assert.True(Value("inter_token_latency_seconds_count") >= 3);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')))
            Assert.Matches(@"^qwensharp:[a-z0-9_]+(\{[^}]*\})? [-+0-9.eE]+$|^qwensharp:[a-z0-9_]+\{[^}]*\} (NaN|\+Inf)$", line);
    }
}

/// <summary>Ollama's routes with stream=false: one JSON object with the whole answer.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class OllamaHttpTests(SharedServer shared)
{
    [Fact]
    public async Task Non_streaming_chat_and_generate_answer_in_one_object()
    {
        var (status, body) = await PostAsync(shared.Server.Http, "api/chat",
            """{"model":"Qwen2-7B-Instruct:latest","messages":[{"role":"system","content":"S"},{"role":"user","content":"U"}],"stream":false,"options":{"num_predict":-1},"keep_alive":0}""");
        Assert.Equal(200, status);
        const string rendered = "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n";
        Assert.Equal(rendered, (string)body!["message"]!["content"]!); // num_predict -1: until EOS (one pass for the fake)
        Assert.True((bool)body["done"]!);
        Assert.Equal("stop", (string)body["done_reason"]!);
        Assert.True((long)body["total_duration"]! > 0);

        (status, body) = await PostAsync(shared.Server.Http, "api/generate",
            """{"model":"Qwen2-7B-Instruct","prompt":"P","system":"S","stream":false,"options":{"num_predict":4,"seed":2}}""");
        Assert.Equal(200, status);
        Assert.Equal(FakeBackend.Reply("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nP<|im_end|>\n<|im_start|>assistant\n", 4, 2), (string)body!["response"]!);
        Assert.Equal(4, (int)body["eval_count"]!);
    }

    [Fact]
    public async Task A_num_ctx_smaller_than_the_prompt_is_refused_not_truncated()
    {
        var (status, body) = await PostAsync(shared.Server.Http, "api/generate",
            """{"model":"Qwen2-7B-Instruct","prompt":"a prompt of some length","raw":true,"stream":false,"options":{"num_ctx":8}}""");
        Assert.Equal(400, status);
        Assert.Contains("maximum context length is 8 tokens", (string)body!["error"]!);
        Assert.Contains("23 input tokens", (string)body["error"]!);
    }
}
