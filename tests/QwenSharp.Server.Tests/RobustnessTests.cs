using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using QwenSharp.Server.Backend;
using static QwenSharp.Server.Tests.HttpApi;

namespace QwenSharp.Server.Tests;

/// <summary>
/// Every bad input of issue #14 sent to the real engine (random tiny model, Qwen2's real tokenizer and template)
/// over loopback while four streams run: each is answered with its 4xx and an error object naming the field, none
/// with a 500, and the streams finish with exactly the output they give alone. Afterwards the engine is idle:
/// nothing in flight, no KV block held.
/// </summary>
public sealed class RobustnessTests(RealModelFixture fixture) : IClassFixture<RealModelFixture>
{
    private HttpClient Http => fixture.Server.Http;

    private sealed record Case(string Name, Func<HttpRequestMessage> Request, int Status, string? Param = null, params string[] Parts);

    private static HttpRequestMessage Post(string path, string json, string? contentType = "application/json")
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(json));
        if (contentType != null) content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
    }

    private static HttpRequestMessage PostBytes(string path, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
    }

    private const string Msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
    private const string Gen = "\"model\":\"Qwen2-7B-Instruct\",\"stream\":false";

    private static IEnumerable<Case> Cases()
    {
        // 1. Token ids are checked where they enter, against the tokenizer (151,646 ids; the embedding has 151,936 rows).
        yield return new("ollama context -1", () => Post("api/generate", $$$"""{{{{Gen}}},"prompt":"hi","raw":true,"context":[-1]}"""), 400, null, "-1", "context", "0 to 151645");
        yield return new("ollama context padding id", () => Post("api/generate", $$$"""{{{{Gen}}},"prompt":"hi","raw":true,"context":[151700]}"""), 400, null, "151700");
        yield return new("completion token -5", () => Post("v1/completions", """{"prompt":[1,-5,3]}"""), 400, "prompt", "-5");
        yield return new("logit_bias padding id", () => Post("v1/chat/completions", $$$"""{{{{Msgs}}},"logit_bias":{"151700":3}}"""), 400, "logit_bias", "151700");
        yield return new("stop_token_ids -1", () => Post("v1/completions", """{"prompt":"a","stop_token_ids":[-1]}"""), 400, "stop_token_ids", "-1");
        // 2. Strings must be text; types, sizes and media types are checked.
        yield return new("lone surrogate prompt", () => Post("v1/completions", """{"prompt":"\udc00"}"""), 400, "prompt", "surrogate");
        yield return new("lone surrogate content", () => Post("v1/chat/completions", """{"messages":[{"role":"user","content":"a\ud800b"}]}"""), 400, "messages[0].content", "surrogate");
        yield return new("lone surrogate in a name", () => Post("v1/chat/completions", $$$"""{{{{Msgs}}},"metadata":{"\udfff":"x"}}"""), 400, "metadata.<name>", "surrogate");
        yield return new("invalid UTF-8", () => PostBytes("v1/completions", [.. "{\"prompt\":\"ab"u8, 0xC3, 0x28, .. "\"}"u8]), 400, "prompt", "UTF-8");
        yield return new("template variable clash", () => Post("v1/chat/completions", $$$"""{{{{Msgs}}},"chat_template_kwargs":{"messages":1}}"""), 400, "chat_template_kwargs", "messages");
        yield return new("content of a wrong type", () => Post("v1/chat/completions", """{"messages":[{"role":"user","content":7}]}"""), 400, "messages[0].content");
        yield return new("messages not an array", () => Post("v1/chat/completions", """{"messages":"hi"}"""), 400, "messages");
        yield return new("tools not an array", () => Post("v1/chat/completions", $$$"""{{{{Msgs}}},"tools":"x","tool_choice":"none"}"""), 400, "tools");
        yield return new("kwargs not an object", () => Post("v1/chat/completions", $$$"""{{{{Msgs}}},"chat_template_kwargs":[1]}"""), 400, "chat_template_kwargs");
        yield return new("text/plain body", () => Post("v1/chat/completions", $$$"""{{{{Msgs}}}}""", "text/plain"), 415, null, "application/json", "text/plain");
        yield return new("form body", () => Post("api/generate", $$$"""{{{{Gen}}},"prompt":"hi"}""", "application/x-www-form-urlencoded"), 415);
        yield return new("no content type", () => Post("v1/completions", """{"prompt":"hi"}""", null), 415);
        yield return new("body over 8 MiB", () =>
        {
            // As curl sends large bodies: the server's 413 comes before the body is sent (otherwise it resets the upload).
            var r = Post("v1/completions", $$$"""{"prompt":"{{{new string('a', 9 << 20)}}}"}""");
            r.Headers.ExpectContinue = true;
            return r;
        }, 413, null, "8388608");
        yield return new("JSON 100 deep", () => Post("v1/chat/completions", $$$"""{{{{Msgs}}},"metadata":{{{new string('[', 100)}}}{{{new string(']', 100)}}}}"""), 400, null, "64");
        yield return new("5,000 messages", () => Post("v1/chat/completions",
            "{\"messages\":[" + string.Join(",", Enumerable.Repeat("""{"role":"user","content":"x"}""", 5000)) + "]}"), 400, "messages", "5000", "4096");
        yield return new("65 stops", () => Post("v1/completions",
            "{\"prompt\":\"a\",\"stop\":[" + string.Join(",", Enumerable.Range(0, 65).Select(i => $"\"s{i}\"")) + "]}"), 400, "stop", "65", "64");
        yield return new("a 1,001-byte stop", () => Post("v1/completions", $$$"""{"prompt":"a","stop":["{{{new string('s', 1001)}}}"]}"""), 400, "stop", "1001", "1000");
        yield return new("ollama 1,001-byte stop", () => Post("api/generate", $$$"""{{{{Gen}}},"prompt":"a","options":{"stop":["{{{new string('s', 1001)}}}"]}}"""), 400);
        // 3. Fields that would change the output and are not implemented are still refused by name.
        yield return new("unimplemented field", () => Post("v1/chat/completions", $$$"""{{{{Msgs}}},"reasoning_effort":"high"}"""), 400, "reasoning_effort");
        // 5. Requests addressed to another site's name are refused (DNS rebinding).
        yield return new("foreign Host", () =>
        {
            var r = Post("v1/completions", """{"prompt":"hi","max_tokens":1}""");
            r.Headers.Host = "evil.example";
            return r;
        }, 403, null, "evil.example");
    }

    [Fact]
    public async Task Every_bad_input_is_a_4xx_while_four_streams_run_unchanged()
    {
        string[] prompts = ["Tell me about llamas.", "Write a haiku about the sea.", "What is 2 + 2?", "Name three colours."];
        string Body(string p) => $$$"""{"messages":[{"role":"user","content":{{{Escape(p)}}}}],"stream":true,"temperature":0,"ignore_eos":true,"max_tokens":48}""";
        var solo = new string[prompts.Length];
        for (int i = 0; i < prompts.Length; i++) solo[i] = await StreamText(Body(prompts[i]));

        using var done = new CancellationTokenSource();
        int[] runs = new int[prompts.Length];
        var streams = prompts.Select((p, i) => Task.Run(async () =>
        {
            // Each stream runs again and again until every bad case was answered, so all of them land mid-stream.
            do
            {
                Assert.Equal(solo[i], await StreamText(Body(p)));
                runs[i]++;
            } while (!done.IsCancellationRequested);
        })).ToArray();

        foreach (var c in Cases())
        {
            using var request = c.Request();
            bool ollama = request.RequestUri!.OriginalString.StartsWith("api/", StringComparison.Ordinal);
            using var response = await Http.SendAsync(request);
            string text = await response.Content.ReadAsStringAsync();
            Assert.True(c.Status == (int)response.StatusCode, $"{c.Name}: expected {c.Status}, got {(int)response.StatusCode}: {text}");
            var body = JsonNode.Parse(text);
            if (ollama)
            {
                string error = (string)body!["error"]!;
                foreach (var part in c.Parts) Assert.Contains(part, error);
            }
            else AssertError(body, c.Status, c.Param, c.Parts);
            Assert.DoesNotContain("Exception", text);
        }
        done.Cancel();
        await Task.WhenAll(streams);
        Assert.All(runs, r => Assert.True(r >= 1));

        // Output-neutral fields real clients send are accepted (and ignored, logged once).
        var (status, _) = await PostAsync(Http, "v1/chat/completions",
            $$$"""{{{{Msgs}}},"max_tokens":2,"store":false,"metadata":{"k":"v"},"user":"u","service_tier":"auto","parallel_tool_calls":true}""");
        Assert.Equal(200, status);
        var (events, _, _) = await PostSseAsync(Http, "v1/chat/completions",
            $$$"""{{{{Msgs}}},"max_tokens":2,"stream":true,"stream_options":{"include_usage":true,"include_obfuscation":false}}""");
        Assert.Equal("[DONE]", events[^1]);
        Assert.Contains(fixture.Server.Logs.Lines, l => l.Contains("'store' is accepted and ignored"));
        Assert.Contains(fixture.Server.Logs.Lines, l => l.Contains("'stream_options.include_obfuscation' is accepted and ignored"));

        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync("health")).StatusCode);
        var engine = fixture.Model.Engine;
        for (int i = 0; i < 200 && (engine.InFlight > 0 || engine.Stats.KvUsage > 0); i++) await Task.Delay(10);
        Assert.Equal(0, engine.InFlight);
        Assert.Equal(0, engine.Stats.KvUsage);
        Assert.DoesNotContain(fixture.Server.Logs.Lines, l => l.StartsWith("Error", StringComparison.Ordinal) || l.StartsWith("Critical", StringComparison.Ordinal));
    }

    private async Task<string> StreamText(string body)
    {
        var (events, _, _) = await PostSseAsync(Http, "v1/chat/completions", body);
        var sb = new StringBuilder();
        foreach (var e in events)
        {
            if (e == "[DONE]") break;
            var chunk = Json(e);
            Assert.Null(chunk["error"]);
            foreach (var choice in chunk["choices"]!.AsArray()) sb.Append((string?)choice!["delta"]?["content"]);
        }
        return sb.ToString();
    }
}
