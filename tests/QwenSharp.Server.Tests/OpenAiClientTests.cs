using System.ClientModel;
using OpenAI;
using OpenAI.Chat;

namespace QwenSharp.Server.Tests;

/// <summary>The official OpenAI .NET client (2.x) against the server, as users call it.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class OpenAiClientTests(SharedServer shared)
{
    public const string System = "You are a helpful assistant.";
    public const string Rendered = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n";

    private OpenAIClient Client() => new(new ApiKeyCredential("unused"),
        new OpenAIClientOptions { Endpoint = new Uri(shared.Server.BaseUri, "v1") });

    [Fact]
    public async Task Chat_completion_returns_the_backend_text_usage_and_finish_reason()
    {
        var chat = Client().GetChatClient(TestServer.Model);
        ChatCompletion completion = await chat.CompleteChatAsync(
            [new SystemChatMessage(System), new UserChatMessage("Hello")],
            new ChatCompletionOptions { MaxOutputTokenCount = 20 });

        Assert.Equal(FakeBackend.Reply(Rendered, 20), completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(Rendered.Length, completion.Usage.InputTokenCount);
        Assert.Equal(20, completion.Usage.OutputTokenCount);
        Assert.Equal(TestServer.Model, completion.Model);
    }

    [Fact]
    public async Task Streaming_chat_concatenates_to_the_whole_answer()
    {
        var chat = Client().GetChatClient(TestServer.Model);
        var text = new global::System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (var update in chat.CompleteChatStreamingAsync(
            [new SystemChatMessage(System), new UserChatMessage("Hello")],
            new ChatCompletionOptions { MaxOutputTokenCount = 30, StopSequences = { "You" } }))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        string whole = FakeBackend.Reply(Rendered, 30);
        Assert.Equal(whole[..whole.IndexOf("You", StringComparison.Ordinal)], text.ToString());
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.NotNull(usage); // the client asks for stream_options.include_usage itself
        Assert.Equal(Rendered.Length, usage.InputTokenCount);
    }

    [Fact]
    public async Task Models_lists_the_served_name()
    {
        var models = await Client().GetOpenAIModelClient().GetModelsAsync();
        Assert.Equal([TestServer.Model], models.Value.Select(m => m.Id));
        var one = await Client().GetOpenAIModelClient().GetModelAsync(TestServer.Model);
        Assert.Equal(TestServer.Model, one.Value.Id);
    }

    [Fact]
    public async Task Unknown_model_is_an_error_the_client_reports_as_404()
    {
        var chat = Client().GetChatClient("gpt-4o");
        var e = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("Hi")]));
        Assert.Equal(404, e.Status);
        Assert.Contains(TestServer.Model, e.Message);
    }
}
