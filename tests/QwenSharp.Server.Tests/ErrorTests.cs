using static QwenSharp.Server.Tests.HttpApi;

namespace QwenSharp.Server.Tests;

/// <summary>Refusals as OpenAI and vLLM send them: `{"error": {"message", "type", "param", "code"}}`.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class ErrorTests(SharedServer shared)
{
    private HttpClient Http => shared.Server.Http;

    private async Task<System.Text.Json.Nodes.JsonObject> Refused(string path, string json, int code, string? param, params string[] parts)
    {
        var (status, body) = await PostAsync(Http, path, json);
        Assert.Equal(code, status);
        return AssertError(body, code, param, parts);
    }

    private const string Msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";

    [Fact]
    public Task Malformed_json() => Refused("v1/chat/completions", "{\"messages\": [", 400, null, "not valid JSON");

    [Fact]
    public Task A_body_that_is_not_an_object() => Refused("v1/chat/completions", "[1, 2]", 400, null, "JSON object");

    [Theory]
    [InlineData("\"temperature\":\"hot\"", "temperature", "must be a number")]
    [InlineData("\"max_tokens\":\"ten\"", "max_tokens", "must be an integer")]
    [InlineData("\"max_tokens\":2.5", "max_tokens", "must be an integer")]
    [InlineData("\"stream\":\"yes\"", "stream", "must be a boolean")]
    [InlineData("\"stop\":[1,2]", "stop", "string")]
    [InlineData("\"n\":1e20", "n", "integer")]
    public Task Wrong_types_name_the_parameter(string field, string param, string message) =>
        Refused("v1/chat/completions", $"{{{Msgs},{field}}}", 400, param, message);

    [Theory]
    [InlineData("\"temperature\":-1", "temperature", "at least 0")]
    [InlineData("\"top_p\":1.5", "top_p", "(0, 1]")]
    [InlineData("\"top_p\":0", "top_p", "(0, 1]")]
    [InlineData("\"presence_penalty\":3", "presence_penalty", "[-2, 2]")]
    [InlineData("\"repetition_penalty\":0", "repetition_penalty", "greater than 0")]
    [InlineData("\"n\":0", "n", "[1, 128]")]
    [InlineData("\"max_tokens\":0", "max_tokens", "at least 1")]
    [InlineData("\"top_logprobs\":3", "top_logprobs", "'logprobs' must be set to true")]
    [InlineData("\"logprobs\":true,\"top_logprobs\":21", "top_logprobs", "[0, 20]")]
    [InlineData("\"logit_bias\":{\"5\":101}", "logit_bias", "[-100, 100]")]
    [InlineData("\"min_tokens\":9,\"max_tokens\":3", "min_tokens", "at most")]
    [InlineData("\"stream_options\":{\"include_usage\":true}", "stream_options", "'stream' is true")]
    public Task Invalid_values_name_the_parameter_and_range(string field, string param, string message) =>
        Refused("v1/chat/completions", $"{{{Msgs},{field}}}", 400, param, message);

    [Fact]
    public Task The_backend_validation_hook_refuses_token_ids_outside_the_vocabulary() =>
        Refused("v1/chat/completions", "{" + Msgs + ",\"logit_bias\":{\"70000\":5}}", 400, "logit_bias", "70000", "vocabulary");

    [Fact]
    public async Task Unknown_model_names_the_models_that_exist()
    {
        var error = await Refused("v1/chat/completions", $$"""{"model":"gpt-4",{{Msgs}}}""", 404, "model", "gpt-4", TestServer.Model);
        Assert.Equal("NotFoundError", (string)error["type"]!);
        await Refused("v1/completions", """{"model":"gpt-4","prompt":"x"}""", 404, "model", TestServer.Model);
    }

    [Fact]
    public async Task A_prompt_beyond_the_context_is_refused_with_its_length_and_the_limit()
    {
        string longText = new('x', 5000);
        await Refused("v1/chat/completions", $$"""{"messages":[{"role":"user","content":"{{longText}}"}]}""", 400, "messages",
            "4096", (longText.Length + "<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n".Length).ToString());
    }

    [Fact]
    public async Task Prompt_plus_max_tokens_beyond_the_context_says_both_counts_and_the_limit()
    {
        int prompt = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n".Length;
        await Refused("v1/chat/completions", $$"""{{{Msgs}},"max_tokens":4090}""", 400, "max_tokens",
            "4096", $"{prompt + 4090} tokens", $"{prompt} in the prompt", "4090 in the completion");
        await Refused("v1/chat/completions", $$"""{{{Msgs}},"max_completion_tokens":4090}""", 400, "max_completion_tokens", "4096");
        await Refused("v1/completions", """{"prompt":"abc","max_tokens":4094}""", 400, "max_tokens", "4097 tokens");
    }

    [Theory]
    [InlineData("\"audio\":{\"voice\":\"alloy\"}", "audio")]
    [InlineData("\"modalities\":[\"text\",\"audio\"]", "modalities")]
    [InlineData("\"best_of\":3", "best_of")]
    [InlineData("\"echo\":true", "echo")]
    [InlineData("\"use_beam_search\":true", "use_beam_search")]
    [InlineData("\"stream\":true,\"stream_options\":{\"include_usage\":true,\"continuous_usage_stats\":true}", "stream_options.continuous_usage_stats")]
    public Task Unsupported_parameters_are_refused_by_name(string field, string param) =>
        Refused("v1/chat/completions", $"{{{Msgs},{field}}}", 400, param, param.Split('.')[^1]);

    [Fact]
    public async Task Unsupported_content_and_message_fields_are_refused()
    {
        await Refused("v1/chat/completions", """{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x"}}]}]}""",
            400, "messages[0].content[0]", "image_url");
        await Refused("v1/chat/completions", """{"messages":[{"role":"wizard","content":"hi"}]}""", 400, "messages[0].role", "wizard");
        await Refused("v1/chat/completions", """{"messages":[]}""", 400, "messages", "at least one");
        await Refused("v1/completions", """{"prompt":"x","suffix":"y"}""", 400, "suffix");
        await Refused("v1/completions", """{"prompt":"x","logprobs":1,"echo":true}""", 400, "echo");
    }

    [Fact]
    public async Task Unknown_routes_and_methods_get_error_objects()
    {
        using var missing = await Http.GetAsync("v1/nothing");
        Assert.Equal(404, (int)missing.StatusCode);
        AssertError(Json(await missing.Content.ReadAsStringAsync()), 404, null, "/v1/nothing");
        using var wrongMethod = await Http.GetAsync("v1/chat/completions");
        Assert.Equal(405, (int)wrongMethod.StatusCode);
        AssertError(Json(await wrongMethod.Content.ReadAsStringAsync()), 405, null, "GET");
    }

    [Fact]
    public async Task Ollama_routes_answer_errors_in_Ollamas_shape()
    {
        var (status, body) = await PostAsync(Http, "api/chat", """{"model":"Qwen2-7B-Instruct","messages":[{"role":"user","content":"hi"}],"options":{"temperature":"warm"}}""");
        Assert.Equal(400, status);
        Assert.Contains("options.temperature", (string)body!["error"]!);
        (status, body) = await PostAsync(Http, "api/generate", """{"model":"Qwen2-7B-Instruct","prompt":"hi","options":{"mirostat":2}}""");
        Assert.Equal(400, status);
        Assert.Contains("options.mirostat", (string)body!["error"]!);
        (status, body) = await PostAsync(Http, "api/chat", """{"model":"nope","messages":[]}""");
        Assert.Equal(404, status);
        Assert.Contains("nope", (string)body!["error"]!);
    }

    [Fact]
    public async Task Hostile_input_is_refused_and_the_server_keeps_serving()
    {
        string deep = new string('[', 200) + new string(']', 200);
        await Refused("v1/chat/completions", $$"""{"messages":{{deep}}}""", 400, null, "not valid JSON");
        using (var bytes = new ByteArrayContent([0xFF, 0xFE, 0x00, 0x7B]))
        {
            bytes.Headers.ContentType = new("application/json");
            using var response = await Http.PostAsync("v1/chat/completions", bytes);
            Assert.Equal(400, (int)response.StatusCode);
        }
        await Refused("v1/completions", """{"prompt":[[1,2],"x"]}""", 400, "prompt", "mixed");
        await Refused("v1/completions", """{"prompt":[99999999999]}""", 400, "prompt", "32-bit");
        await Refused("v1/completions", """{"prompt":[70000]}""", 400, "prompt", "vocabulary");
        await Refused("v1/completions", """{"prompt":""}""", 400, "prompt", "empty");
        var (status, _) = await PostAsync(Http, "v1/chat/completions", $"{{{Msgs},\"max_tokens\":2}}");
        Assert.Equal(200, status);
    }
}
