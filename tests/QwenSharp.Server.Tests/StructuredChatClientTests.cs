using Microsoft.Extensions.AI;
using OpenAI;

namespace QwenSharp.Server.Tests;

/// <summary>
/// Microsoft.Extensions.AI's GetResponseAsync&lt;T&gt; as users call it: in process through <see cref="QwenChatClient"/>,
/// and over HTTP through the OpenAI adapter (which sends json_schema without strict, with $schema, title and
/// description). Random weights write no JSON by themselves, so a T coming back is the schema's grammar at work.
/// </summary>
public sealed class StructuredChatClientTests(RealModelFixture fixture) : IClassFixture<RealModelFixture>
{
    // Bounded types only: a random tiny model may repeat one word forever inside a free string, and the test must
    // hold for any weights and any kernel tier's rounding, so every field here has a bounded number of tokens.
    public enum Sky { Sunny, Cloudy, Rainy }

    public sealed record Forecast(Sky Sky, long Celsius, bool Wind);

    public sealed record Reading(bool Ok, Sky Sky, double Level);

    private IChatClient OverHttp() => new OpenAIClient(new System.ClientModel.ApiKeyCredential("unused"),
            new OpenAIClientOptions { Endpoint = new Uri(fixture.Server.BaseUri, "v1") })
        .GetChatClient(TestServer.Model).AsIChatClient();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task GetResponseAsync_of_T_returns_a_T_in_process(int seed)
    {
        var client = new QwenChatClient(fixture.Model);
        var response = await client.GetResponseAsync<Forecast>("Tomorrow's weather?", new ChatOptions { Temperature = 1f, Seed = seed, MaxOutputTokens = 1000 });
        Assert.True(ChatFinishReason.Stop == response.FinishReason, response.Text[..Math.Min(3000, response.Text.Length)]);
        Assert.True(response.TryGetResult(out var forecast), response.Text);
        Assert.True(Enum.IsDefined(forecast!.Sky));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public async Task GetResponseAsync_of_T_returns_a_T_over_the_OpenAI_adapter(int seed)
    {
        var response = await OverHttp().GetResponseAsync<Reading>("Read the gauge.", new ChatOptions { Temperature = 1f, Seed = seed, MaxOutputTokens = 1000 });
        Assert.True(ChatFinishReason.Stop == response.FinishReason, response.Text[..Math.Min(3000, response.Text.Length)]);
        Assert.True(response.TryGetResult(out var reading), response.Text);
        Assert.True(Enum.IsDefined(reading!.Sky));
    }

    [Fact]
    public async Task Instructions_become_a_system_message()
    {
        var client = new QwenChatClient(fixture.Model);
        var options = new ChatOptions { Instructions = "Answer in French.", MaxOutputTokens = 1, Temperature = 0f };
        var withInstructions = await client.GetResponseAsync("Hi", options);
        int[] expected = client.PromptTokens([new ChatMessage(ChatRole.System, "Answer in French."), new ChatMessage(ChatRole.User, "Hi")]);
        Assert.Equal(expected.Length, withInstructions.Usage!.InputTokenCount);
    }
}
