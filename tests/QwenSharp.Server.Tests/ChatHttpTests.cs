using System.Text.Json.Nodes;
using static QwenSharp.Server.Tests.HttpApi;

namespace QwenSharp.Server.Tests;

/// <summary>/v1/chat/completions over raw HTTP: the card's curl request, SSE framing, usage, n, logprobs.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class ChatHttpTests(SharedServer shared)
{
    private HttpClient Http => shared.Server.Http;

    private const string CardUser = "Tell me something about large language models.";
    private static readonly string CardRendered =
        $"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{CardUser}<|im_end|>\n<|im_start|>assistant\n";

    // The request the Qwen2 model card sends with curl to a vLLM server.
    private const string CardRequest = """
        {
          "model": "Qwen2-7B-Instruct",
          "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Tell me something about large language models."}
          ],
          "temperature": 0.7,
          "top_p": 0.8,
          "repetition_penalty": 1.05,
          "max_tokens": 512
        }
        """;

    [Fact]
    public async Task The_cards_curl_request_gets_an_OpenAI_chat_completion()
    {
        var (status, body) = await PostAsync(Http, "v1/chat/completions", CardRequest);
        Assert.Equal(200, status);
        Assert.StartsWith("chatcmpl-", (string)body!["id"]!);
        Assert.Equal("chat.completion", (string)body["object"]!);
        Assert.Equal("Qwen2-7B-Instruct", (string)body["model"]!);
        var choice = body["choices"]![0]!;
        Assert.Equal(0, (int)choice["index"]!);
        Assert.Equal("assistant", (string)choice["message"]!["role"]!);
        Assert.Equal(CardRendered, (string)choice["message"]!["content"]!); // the fake echoes its prompt, then EOS
        Assert.Equal("stop", (string)choice["finish_reason"]!);
        Assert.Null(choice["logprobs"]);
        var usage = body["usage"]!;
        Assert.Equal(CardRendered.Length, (int)usage["prompt_tokens"]!);
        Assert.Equal(CardRendered.Length, (int)usage["completion_tokens"]!);
        Assert.Equal(2 * CardRendered.Length, (int)usage["total_tokens"]!);
        Assert.NotNull(usage["prompt_tokens_details"]!["cached_tokens"]);
        var sampling = body["sampling_params"]!;
        Assert.Equal(0.7, (double)sampling["temperature"]!);
        Assert.Equal(1.05, (double)sampling["repetition_penalty"]!);
        Assert.Equal(20, (int)sampling["top_k"]!); // a default the backend resolved
    }

    [Fact]
    public async Task A_repeated_prompt_reports_cached_tokens()
    {
        await PostAsync(Http, "v1/chat/completions", CardRequest);
        var (_, body) = await PostAsync(Http, "v1/chat/completions", CardRequest);
        Assert.Equal(CardRendered.Length / 16 * 16, (int)body!["usage"]!["prompt_tokens_details"]!["cached_tokens"]!);
    }

    [Fact]
    public async Task Streaming_is_SSE_with_a_role_chunk_deltas_a_finish_chunk_usage_and_DONE()
    {
        string request = """{"model":"Qwen2-7B-Instruct","messages":[{"role":"user","content":"Hello"}],"max_tokens":10,"stream":true,"stream_options":{"include_usage":true}}""";
        var (events, raw, contentType) = await PostSseAsync(Http, "v1/chat/completions", request);
        Assert.Equal("text/event-stream", contentType);
        Assert.EndsWith("data: [DONE]\n\n", raw);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(Json).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", (string)c["object"]!));
        Assert.Single(chunks.Select(c => (string)c["id"]!).Distinct());

        Assert.Equal("assistant", (string)chunks[0]["choices"]![0]!["delta"]!["role"]!);
        var usageChunk = chunks[^1];
        Assert.Empty(usageChunk["choices"]!.AsArray());
        Assert.Equal(10, (int)usageChunk["usage"]!["completion_tokens"]!);
        Assert.NotNull(usageChunk["usage"]!["prompt_tokens_details"]!["cached_tokens"]);
        var finish = chunks[^2]["choices"]![0]!;
        Assert.Equal("length", (string)finish["finish_reason"]!);
        Assert.NotNull(chunks[^2]["sampling_params"]);

        string text = string.Concat(chunks[1..^2].Select(c => (string?)c["choices"]![0]!["delta"]!["content"]));
        Assert.All(chunks[1..^2], c => Assert.Null(c["choices"]![0]!["finish_reason"]));
        Assert.Equal(FakeBackend.Reply("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", 10), text);
    }

    [Fact]
    public async Task Streaming_without_include_usage_sends_no_usage_chunk()
    {
        string request = """{"model":"Qwen2-7B-Instruct","messages":[{"role":"user","content":"Hi"}],"max_tokens":3,"stream":true}""";
        var (events, _, _) = await PostSseAsync(Http, "v1/chat/completions", request);
        Assert.All(events[..^1].Select(Json), c => Assert.Null(c["usage"]));
    }

    [Fact]
    public async Task N_choices_are_sequences_0_to_n_minus_1_of_one_seed()
    {
        const string rendered = "<|im_start|>user\nabcdefgh<|im_end|>\n<|im_start|>assistant\n";
        string request = """{"messages":[{"role":"user","content":"abcdefgh"}],"max_tokens":6,"n":3,"seed":5}""";
        var (status, body) = await PostAsync(Http, "v1/chat/completions", request);
        Assert.Equal(200, status);
        var choices = body!["choices"]!.AsArray();
        Assert.Equal([0, 1, 2], choices.Select(c => (int)c!["index"]!));
        for (int i = 0; i < 3; i++)
            Assert.Equal(FakeBackend.Reply(rendered, 6, seed: 5 + i), (string)choices[i]!["message"]!["content"]!);
        Assert.Equal(rendered.Length, (int)body["usage"]!["prompt_tokens"]!); // the shared prompt counts once
        Assert.Equal(18, (int)body["usage"]!["completion_tokens"]!);

        var (events, _, _) = await PostSseAsync(Http, "v1/chat/completions", request[..^1] + ",\"stream\":true}");
        var texts = new string[3];
        foreach (var c in events[..^1].Select(Json))
            foreach (var ch in c["choices"]!.AsArray())
                texts[(int)ch!["index"]!] += (string?)ch["delta"]!["content"];
        for (int i = 0; i < 3; i++) Assert.Equal(FakeBackend.Reply(rendered, 6, seed: 5 + i), texts[i]);
    }

    [Fact]
    public async Task Logprobs_come_back_in_OpenAIs_chat_shape()
    {
        string request = """{"messages":[{"role":"user","content":"hey"}],"max_tokens":5,"logprobs":true,"top_logprobs":2}""";
        var (status, body) = await PostAsync(Http, "v1/chat/completions", request);
        Assert.Equal(200, status);
        var content = body!["choices"]![0]!["logprobs"]!["content"]!.AsArray();
        Assert.Equal(5, content.Count);
        string text = (string)body["choices"]![0]!["message"]!["content"]!;
        for (int k = 0; k < 5; k++)
        {
            var entry = content[k]!;
            Assert.Equal(text[k].ToString(), (string)entry["token"]!);
            Assert.Equal(-(k % 4) / 4.0 - 0.1, (double)entry["logprob"]!, 9);
            Assert.Equal([(int)text[k]], entry["bytes"]!.AsArray().Select(b => (int)b!)); // ASCII: one byte, as an int list
            var top = entry["top_logprobs"]!.AsArray();
            Assert.Equal(2, top.Count);
            Assert.All(top, t => { Assert.NotNull(t!["token"]); Assert.NotNull(t["logprob"]); Assert.NotNull(t["bytes"]); });
        }

        var (events, _, _) = await PostSseAsync(Http, "v1/chat/completions", request[..^1] + ",\"stream\":true}");
        var streamed = events[..^1].Select(Json).Select(c => c["choices"]![0]!["logprobs"]).OfType<JsonObject>()
            .SelectMany(l => l["content"]!.AsArray()).ToList();
        Assert.Equal(5, streamed.Count);
    }

    [Fact]
    public async Task The_request_log_names_the_request_id_and_token_counts()
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"messages":[{"role":"user","content":"log me"}],"max_tokens":4}""", System.Text.Encoding.UTF8, "application/json"),
        };
        message.Headers.Add("X-Request-Id", "log-test-17");
        using var response = await Http.SendAsync(message);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Contains(shared.Server.Logs.Lines, l => l.Contains("chatcmpl-log-test-17") && l.Contains("completion_tokens=4") && l.Contains("ttft_ms="));
    }
}
