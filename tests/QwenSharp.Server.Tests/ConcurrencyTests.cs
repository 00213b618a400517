using System.Text.Json.Nodes;
using static QwenSharp.Server.Tests.HttpApi;

namespace QwenSharp.Server.Tests;

/// <summary>16 clients streaming at once each get exactly what they get alone.</summary>
public sealed class ConcurrencyTests
{
    [Fact]
    public async Task Sixteen_simultaneous_streams_each_equal_their_answer_alone()
    {
        await using var server = await TestServer.StartAsync(backend: new FakeBackend(4096, TimeSpan.FromMilliseconds(2)));
        string Request(int i, bool stream) =>
            $$"""{"messages":[{"role":"user","content":"client {{i}}: {{new string((char)('a' + i), i + 3)}}"}],"max_tokens":{{20 + i}},"seed":{{i}},"stream":{{(stream ? "true" : "false")}}}""";

        var alone = new string[16];
        for (int i = 0; i < 16; i++)
            alone[i] = (string)(await PostAsync(server.Http, "v1/chat/completions", Request(i, false))).Body!["choices"]![0]!["message"]!["content"]!;

        var together = await Task.WhenAll(Enumerable.Range(0, 16).Select(async i =>
        {
            var (events, _, _) = await PostSseAsync(server.Http, "v1/chat/completions", Request(i, true));
            Assert.Equal("[DONE]", events[^1]);
            return string.Concat(events[..^1].Select(e => (string?)JsonNode.Parse(e)!["choices"]!.AsArray().FirstOrDefault()?["delta"]?["content"]));
        }));

        Assert.Equal(alone, together);
        for (int i = 0; i < 16; i++) Assert.Equal(20 + i, alone[i].Length);
        Assert.Equal(0, server.Backend.Running);
    }
}
