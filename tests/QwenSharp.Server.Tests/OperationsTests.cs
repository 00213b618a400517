using System.Net.Http.Headers;
using QwenSharp.Server;
using static QwenSharp.Server.Tests.HttpApi;

namespace QwenSharp.Server.Tests;

/// <summary>--api-key, CORS, client disconnects and graceful shutdown, each on its own server.</summary>
public sealed class OperationsTests
{
    [Fact]
    public async Task Api_key_guards_every_route_but_health()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { ApiKey = "s3cret" });
        foreach (var path in new[] { "v1/models", "metrics", "version", "api/tags" })
        {
            using var response = await server.Http.GetAsync(path);
            Assert.Equal(401, (int)response.StatusCode);
        }
        var (status, body) = await PostAsync(server.Http, "v1/chat/completions", """{"messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(401, status);
        AssertError(body, 401, null, "API key");
        (status, _) = await PostAsync(server.Http, "v1/chat/completions", """{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}""", apiKey: "s3cre");
        Assert.Equal(401, status);
        (status, _) = await PostAsync(server.Http, "v1/chat/completions", """{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}""", apiKey: "s3cret");
        Assert.Equal(200, status);
        using var health = await server.Http.GetAsync("health");
        Assert.Equal(200, (int)health.StatusCode);
    }

    [Fact]
    public async Task Cors_is_off_by_default_and_on_for_allowed_origins()
    {
        static HttpRequestMessage Preflight()
        {
            var m = new HttpRequestMessage(HttpMethod.Options, "v1/chat/completions");
            m.Headers.Add("Origin", "http://example.com");
            m.Headers.Add("Access-Control-Request-Method", "POST");
            return m;
        }
        await using (var closed = await TestServer.StartAsync())
        {
            using var response = await closed.Http.SendAsync(Preflight());
            Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        }
        await using var open = await TestServer.StartAsync(new ServerOptions { AllowedOrigins = ["http://example.com"], ApiKey = "k" });
        using var allowed = await open.Http.SendAsync(Preflight());
        Assert.Equal("http://example.com", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Fact]
    public async Task A_client_that_disconnects_frees_its_sequence()
    {
        await using var server = await TestServer.StartAsync(backend: new FakeBackend(4096, TimeSpan.FromMilliseconds(5)));
        using var cts = new CancellationTokenSource();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"messages":[{"role":"user","content":"a long answer"}],"max_tokens":3000,"ignore_eos":true,"stream":true}""", System.Text.Encoding.UTF8, "application/json"),
        };
        var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        var stream = await response.Content.ReadAsStreamAsync(cts.Token);
        await stream.ReadAtLeastAsync(new byte[16], 16, cancellationToken: cts.Token); // the first chunk has arrived
        await WaitUntil(() => server.Backend.Running == 1, TimeSpan.FromSeconds(5)); // the role chunk precedes the first token
        cts.Cancel();
        response.Dispose();
        await WaitUntil(() => server.Backend.Running == 0, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Stopping_the_server_cancels_in_flight_generations_cleanly()
    {
        var server = await TestServer.StartAsync(backend: new FakeBackend(4096, TimeSpan.FromMilliseconds(5)));
        var response = await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"messages":[{"role":"user","content":"keep going"}],"max_tokens":3000,"ignore_eos":true,"stream":true}""", System.Text.Encoding.UTF8, "application/json"),
        }, HttpCompletionOption.ResponseHeadersRead);
        var reading = response.Content.ReadAsStringAsync();
        await WaitUntil(() => server.Backend.Running == 1, TimeSpan.FromSeconds(5));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await server.App.StopAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"stopping took {clock.Elapsed}");
        string body = await reading;
        Assert.Contains("shutting down", body);
        Assert.EndsWith("data: [DONE]\n\n", body);
        Assert.Equal(0, server.Backend.Running);
        response.Dispose();
        await server.DisposeAsync();
    }

    [Fact]
    public async Task A_client_that_stops_reading_does_not_stall_others()
    {
        await using var server = await TestServer.StartAsync(backend: new FakeBackend(4096, TimeSpan.FromMilliseconds(1)));
        using var idle = await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = new StringContent("""{"prompt":"never read","max_tokens":3000,"ignore_eos":true,"stream":true}""", System.Text.Encoding.UTF8, "application/json"),
        }, HttpCompletionOption.ResponseHeadersRead);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 3; i++)
        {
            var (status, body) = await PostAsync(server.Http, "v1/completions", """{"prompt":"meanwhile","max_tokens":5}""");
            Assert.Equal(200, status);
            Assert.Equal("meanw", (string)body!["choices"]![0]!["text"]!);
        }
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"three short requests took {clock.Elapsed}");
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) Assert.Fail($"condition not met within {timeout}");
            await Task.Delay(10);
        }
    }
}
