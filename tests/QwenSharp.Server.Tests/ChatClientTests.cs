using Microsoft.Extensions.AI;
using OpenAI;

namespace QwenSharp.Server.Tests;

/// <summary>Microsoft.Extensions.AI's IChatClient over the OpenAI client, pointed at the server.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class ChatClientTests(SharedServer shared)
{
    private IChatClient Client() => new OpenAIClient(new System.ClientModel.ApiKeyCredential("unused"),
            new OpenAIClientOptions { Endpoint = new Uri(shared.Server.BaseUri, "v1") })
        .GetChatClient(TestServer.Model).AsIChatClient();

    private static List<ChatMessage> Messages() =>
        [new(ChatRole.System, OpenAiClientTests.System), new(ChatRole.User, "Hello")];

    [Fact]
    public async Task GetResponse_returns_the_text()
    {
        var response = await Client().GetResponseAsync(Messages(), new ChatOptions { MaxOutputTokens = 25 });
        Assert.Equal(FakeBackend.Reply(OpenAiClientTests.Rendered, 25), response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(25, response.Usage?.OutputTokenCount);
    }

    [Fact]
    public async Task GetStreamingResponse_returns_the_same_text()
    {
        var options = new ChatOptions { MaxOutputTokens = 25, Temperature = 0, Seed = 3 };
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in Client().GetStreamingResponseAsync(Messages(), options)) updates.Add(u);
        Assert.Equal(FakeBackend.Reply(OpenAiClientTests.Rendered, 25, seed: 3), updates.ToChatResponse().Text);
    }
}
