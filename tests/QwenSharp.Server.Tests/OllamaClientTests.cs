using System.Text;
using OllamaSharp;
using OllamaSharp.Models;
using OllamaSharp.Models.Chat;

namespace QwenSharp.Server.Tests;

/// <summary>OllamaSharp (5.x) against the Ollama routes: chat and generate streaming as NDJSON, tags, show, version.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class OllamaClientTests(SharedServer shared)
{
    private OllamaApiClient Client() => new(new HttpClient { BaseAddress = shared.Server.BaseUri }, TestServer.Model);

    [Fact]
    public async Task Chat_streams_the_reply_and_a_final_done_chunk()
    {
        var text = new StringBuilder();
        ChatResponseStream? last = null;
        await foreach (var chunk in Client().ChatAsync(new ChatRequest
        {
            Model = TestServer.Model,
            Messages = [new Message(ChatRole.User, "Hello")],
            Options = new RequestOptions { NumPredict = 12, Temperature = 0.5f },
            KeepAlive = "5m",
        }))
        {
            text.Append(chunk?.Message.Content);
            last = chunk;
        }
        const string rendered = "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n";
        Assert.Equal(FakeBackend.Reply(rendered, 12), text.ToString());
        var done = Assert.IsType<ChatDoneResponseStream>(last);
        Assert.True(done.Done);
        Assert.Equal("length", done.DoneReason);
        Assert.Equal(rendered.Length, done.PromptEvalCount);
        Assert.Equal(12, done.EvalCount);
    }

    [Fact]
    public async Task Generate_raw_streams_the_reply_and_returns_the_context()
    {
        var text = new StringBuilder();
        GenerateResponseStream? last = null;
        await foreach (var chunk in Client().GenerateAsync(new GenerateRequest
        {
            Model = TestServer.Model, Prompt = "The quick brown fox", Raw = true,
            Options = new RequestOptions { NumPredict = 16, Stop = ["brown"] },
        }))
        {
            text.Append(chunk?.Response);
            last = chunk;
        }
        Assert.Equal("The quick ", text.ToString());
        var done = Assert.IsType<GenerateDoneResponseStream>(last);
        Assert.Equal("stop", done.DoneReason);
        // prompt ids then the 15 generated ids: the stop string's tokens were generated, their text held back
#pragma warning disable CS0618 // Ollama deprecated `context` but still sends it; clients may still use it
        Assert.Equal("The quick brown fox".Length + 15, done.Context.Length);
#pragma warning restore CS0618
    }

    [Fact]
    public async Task Tags_show_and_version_describe_the_model()
    {
        var client = Client();
        var models = await client.ListLocalModelsAsync();
        Assert.Equal([TestServer.Model], models.Select(m => m.Name));
        Assert.Equal("Q8_0", models.First().Details.QuantizationLevel);
        var show = await client.ShowModelAsync(TestServer.Model);
        Assert.Equal("{{ fake template }}", show.Template);
        Assert.Equal("qwen2", show.Details.Family);
        Assert.NotNull(await client.GetVersionAsync());
        Assert.True(await client.IsRunningAsync());
    }

    [Fact]
    public async Task Unknown_model_is_refused_with_404()
    {
        var client = new OllamaApiClient(new HttpClient { BaseAddress = shared.Server.BaseUri }, "llama3");
        var e = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var _ in client.GenerateAsync("hi")) { }
        });
        Assert.Contains("404", e.Message); // OllamaSharp reports the status; the body names the model (ErrorTests)
    }
}
