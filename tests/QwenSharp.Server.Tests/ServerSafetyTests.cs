using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using QwenSharp.Server.Operations;
using static QwenSharp.Server.Tests.HttpApi;

namespace QwenSharp.Server.Tests;

/// <summary>Bounds and defences of the HTTP layer: the waiting queue, the Host check, trickling bodies, a dead
/// engine, and what a 500 may tell.</summary>
public sealed class ServerSafetyTests
{
    private const string Msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"a long enough prompt\"}]";

    [Fact]
    public async Task Requests_beyond_running_plus_waiting_get_429_with_Retry_After_and_places_come_back()
    {
        var backend = new FakeBackend(maxModelLength: 4096, tokenDelay: TimeSpan.FromMilliseconds(20));
        await using var server = await TestServer.StartAsync(new ServerOptions { MaxNumSeqs = 1, MaxWaitingRequests = 1 }, backend);
        string slow = "{" + Msgs + ",\"max_tokens\":60,\"ignore_eos\":true}";
        var first = PostAsync(server.Http, "v1/chat/completions", slow);
        var second = PostAsync(server.Http, "v1/chat/completions", slow);
        for (int i = 0; i < 200 && backend.Running < 2; i++) await Task.Delay(5);
        Assert.Equal(2, backend.Running);

        using (var response = await server.Http.PostAsync("v1/chat/completions", Content("{" + Msgs + ",\"stream\":true}")))
        {
            Assert.Equal(429, (int)response.StatusCode);
            Assert.Equal("1", response.Headers.GetValues("Retry-After").Single());
            AssertError(Json(await response.Content.ReadAsStringAsync()), 429, null, "busy", "--max-waiting-requests");
        }
        using (var response = await server.Http.PostAsync("api/chat", Content("""{"model":"Qwen2-7B-Instruct","messages":[{"role":"user","content":"x"}]}""")))
        {
            Assert.Equal(429, (int)response.StatusCode);
            Assert.Contains("busy", (string)Json(await response.Content.ReadAsStringAsync())["error"]!);
        }
        Assert.Equal(200, (await first).Status);
        Assert.Equal(200, (await second).Status);
        var (status, _) = await PostAsync(server.Http, "v1/completions", """{"prompt":"again","max_tokens":2}""");
        Assert.Equal(200, status);
    }

    [Theory]
    [InlineData("localhost:8000", true)]
    [InlineData("LOCALHOST", true)]
    [InlineData("127.0.0.1:8000", true)]
    [InlineData("127.8.9.10", true)]
    [InlineData("[::1]:8000", true)]
    [InlineData("app.localhost:8000", true)]
    [InlineData("evil.example", false)]
    [InlineData("127.0.0.1.nip.io", false)]
    [InlineData("localhost.evil.example", false)]
    [InlineData("192.168.1.20", false)]
    public void Loopback_servers_answer_only_loopback_host_names(string host, bool allowed)
    {
        var filter = new HostFilter("127.0.0.1", []);
        Assert.Equal(allowed, filter.Refusal(Request(host)) is null);
        // --allowed-hosts adds names; a server on another address is meant to be reached by other names.
        Assert.Null(new HostFilter("127.0.0.1", ["evil.example", "127.0.0.1.nip.io", "localhost.evil.example", "192.168.1.20"]).Refusal(Request(host)));
        Assert.Null(new HostFilter("127.0.0.1", ["*"]).Refusal(Request(host)));
        Assert.Null(new HostFilter("0.0.0.0", []).Refusal(Request(host)));
    }

    private static Microsoft.AspNetCore.Http.HttpRequest Request(string host)
    {
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        context.Request.Host = new Microsoft.AspNetCore.Http.HostString(host);
        return context.Request;
    }

    [Fact]
    public async Task A_foreign_Host_is_refused_with_403_before_any_route_runs()
    {
        await using var server = await TestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = Content("""{"prompt":"hi","max_tokens":1}""") };
        request.Headers.Host = "rebind.evil.example:8000";
        using var response = await server.Http.SendAsync(request);
        Assert.Equal(403, (int)response.StatusCode);
        AssertError(Json(await response.Content.ReadAsStringAsync()), 403, null, "rebind.evil.example", "--allowed-hosts");
        Assert.Equal(0, server.Backend.Running);
    }

    [Fact]
    public async Task A_body_trickling_at_100_bytes_a_second_is_dropped_while_others_are_served()
    {
        await using var server = await TestServer.StartAsync();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.BaseUri.Host, server.BaseUri.Port);
        string head = $"POST /v1/completions HTTP/1.1\r\nHost: {server.BaseUri.Authority}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(head));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        bool dropped = false;
        var chunk = Encoding.ASCII.GetBytes(new string(' ', 10));
        while (clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            try { await socket.SendAsync(chunk); }
            catch (SocketException) { dropped = true; break; }
            if (socket.Poll(0, SelectMode.SelectRead))
            {
                // The server answered (408) or closed the connection: either way the upload is over.
                dropped = true;
                break;
            }
            var (status, _) = await PostAsync(server.Http, "v1/completions", """{"prompt":"meanwhile","max_tokens":2}""");
            Assert.Equal(200, status);
            await Task.Delay(100); // 10 bytes per 100 ms
        }
        Assert.True(dropped, $"a 100 B/s body was still being read after {clock.Elapsed.TotalSeconds:F0} s");
        // Kestrel's minimum is 240 B/s after a 5 s grace period: it gives up soon after the grace.
        Assert.InRange(clock.Elapsed.TotalSeconds, ServerLimits.MinBodyRate.GracePeriod.TotalSeconds, 15);
    }

    [Fact]
    public async Task A_dead_engine_makes_health_503_and_stops_the_server()
    {
        var backend = new FakeBackend(maxModelLength: 4096);
        var server = await TestServer.StartAsync(backend: backend);
        try
        {
            Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("health")).StatusCode);
            var stopped = new TaskCompletionSource();
            server.App.Lifetime.ApplicationStopping.Register(() => stopped.TrySetResult());
            backend.Die("The inference engine stopped after an internal error (IndexOutOfRangeException).");
            Assert.Same(stopped.Task, await Task.WhenAny(stopped.Task, Task.Delay(10_000)));
            Assert.Contains(server.Logs.Lines, l => l.StartsWith("Critical", StringComparison.Ordinal) && l.Contains("stopped after an internal error"));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Health_answers_503_naming_the_failure_while_the_engine_is_dead()
    {
        var backend = new FakeBackend(maxModelLength: 4096);
        await using var server = await TestServer.StartAsync(backend: backend);
        backend.Failure = "The inference engine stopped after an internal error (IndexOutOfRangeException).";
        using var response = await server.Http.GetAsync("health");
        Assert.Equal(503, (int)response.StatusCode);
        AssertError(Json(await response.Content.ReadAsStringAsync()), 503, null, "stopped after an internal error");
    }

    [Fact]
    public async Task A_500_names_the_request_id_and_tells_no_exception_text()
    {
        await using var server = await TestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = Content($$"""{"messages":[{"role":"user","content":"{{FakeBackend.BugTrigger}}"}]}"""),
        };
        request.Headers.Add("X-Request-Id", "req-42");
        using var response = await server.Http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        Assert.Equal(500, (int)response.StatusCode);
        AssertError(Json(text), 500, null, "req-42", "server log");
        Assert.DoesNotContain("secret", text);
        Assert.DoesNotContain("IOException", text);
        Assert.Contains(server.Logs.Lines, l => l.StartsWith("Error", StringComparison.Ordinal) && l.Contains("req-42") && l.Contains("/home/secret"));
    }

    private static StringContent Content(string json) => new(json, Encoding.UTF8, "application/json");
}
