using Microsoft.Extensions.AI;
using QwenSharp.Engine;
using QwenSharp.Generation;
using QwenSharp.Tensors;
using QwenSharp.Tests.Model;
using QwenSharp.Tests.Text;

namespace QwenSharp.Tests.Clients;

/// <summary>
/// QwenChatClient used the way a .NET application uses an IChatClient, on a random model that has the real
/// Qwen2 tokenizer and chat template; token counts are checked against Hugging Face tokenizers.
/// </summary>
public class QwenChatClientTests
{
    private static readonly HfTokenizer Hf = HfTokenizer.Load(Fixtures.Path("qwen2-tokenizer/tokenizer.json"));

    private static ChatOptions Greedy(int maxTokens) => new()
    {
        Temperature = 0,
        MaxOutputTokens = maxTokens,
        AdditionalProperties = new AdditionalPropertiesDictionary { ["ignore_eos"] = true },
    };

    [Fact]
    public async Task UsageCountsEqualHuggingFaceTokenCounts()
    {
        IChatClient client = new QwenChatClient(ChatTestModel.Loaded);
        var messages = new List<ChatMessage>
        {
            new(ChatRole.System, "You are a terse assistant."),
            new(ChatRole.User, "What is the capital of France? Answer in one word."),
        };
        var response = await client.GetResponseAsync(messages, Greedy(8));

        int expectedPrompt = Hf.Encode(ChatTestModel.ChatMl(("system", "You are a terse assistant."),
            ("user", "What is the capital of France? Answer in one word."))).Length;
        Assert.NotNull(response.Usage);
        Assert.Equal(expectedPrompt, response.Usage!.InputTokenCount);
        Assert.Equal(8, response.Usage.OutputTokenCount);
        Assert.Equal(expectedPrompt + 8, response.Usage.TotalTokenCount);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(Path.GetFileNameWithoutExtension(ChatTestModel.Path), response.ModelId);
        Assert.Equal(ChatRole.Assistant, response.Messages.Single().Role);
    }

    [Fact]
    public async Task PlainStringPromptGetsTheDefaultSystemMessage()
    {
        IChatClient client = new QwenChatClient(ChatTestModel.Loaded);
        var response = await client.GetResponseAsync("Hello there", Greedy(3));
        Assert.Equal(Hf.Encode(ChatTestModel.ChatMl(("user", "Hello there"))).Length, response.Usage!.InputTokenCount);
        Assert.Equal(3, response.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task StreamingYieldsTheSameTextWithUsageAndFinishReasonLast()
    {
        IChatClient client = new QwenChatClient(ChatTestModel.Loaded);
        var whole = await client.GetResponseAsync("Tell me a story.", Greedy(12));
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync("Tell me a story.", Greedy(12)))
            updates.Add(update);

        Assert.Equal(whole.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.True(updates.Count > 1, "the reply was not streamed");
        var last = updates[^1];
        Assert.Equal(ChatFinishReason.Length, last.FinishReason);
        var usage = Assert.Single(last.Contents.OfType<UsageContent>()).Details;
        Assert.Equal(whole.Usage!.InputTokenCount, usage.InputTokenCount);
        Assert.Equal(12, usage.OutputTokenCount);
        Assert.All(updates[..^1], u => Assert.Null(u.FinishReason));
        Assert.All(updates, u => Assert.Equal(ChatRole.Assistant, u.Role));
        // The updates reassemble into one message, as ToChatResponse does for any client.
        var assembled = updates.ToChatResponse();
        Assert.Equal(whole.Text, assembled.Text);
        Assert.Equal(12, assembled.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task StopSequenceSplitAcrossTokensIsNeverStreamed()
    {
        var model = ChatTestModel.Loaded;
        IChatClient client = new QwenChatClient(model);
        var prompt = new List<ChatMessage> { new(ChatRole.User, "Write a long sentence about rivers.") };
        var free = await client.GetResponseAsync(prompt, Greedy(40));
        int[] ids = model.Tokenizer.Encode(model.RenderChat(QwenChatClient.ToTemplateMessages(prompt)));
        // The same greedy tokens again, to find where one token's text ends inside the reply.
        var (stop, text) = StopStrings.AcrossBoundary(model, ids, 40);
        Assert.Equal(free.Text, text);

        var options = Greedy(40);
        options.StopSequences = [stop];
        var deltas = new List<string>();
        ChatFinishReason? finish = null;
        await foreach (var update in client.GetStreamingResponseAsync(prompt, options))
        {
            deltas.Add(update.Text);
            finish = update.FinishReason ?? finish;
        }
        string streamed = string.Concat(deltas);
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], streamed);
        Assert.DoesNotContain(stop, streamed);
        Assert.Equal(ChatFinishReason.Stop, finish);
    }

    [Fact]
    public async Task SeededSamplingRepeatsAndDifferentSeedsDiffer()
    {
        IChatClient client = new QwenChatClient(ChatTestModel.Loaded);
        ChatOptions Seeded(long seed) => new() { Temperature = 1.0f, TopP = 1.0f, MaxOutputTokens = 16, Seed = seed,
            AdditionalProperties = new AdditionalPropertiesDictionary { ["ignore_eos"] = true } };
        string a = (await client.GetResponseAsync("Pick random words.", Seeded(42))).Text;
        string b = (await client.GetResponseAsync("Pick random words.", Seeded(42))).Text;
        string c = (await client.GetResponseAsync("Pick random words.", Seeded(43))).Text;
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public async Task CancellationStopsTheStreamAndFreesTheSequence()
    {
        var model = ChatTestModel.Loaded;
        IChatClient client = new QwenChatClient(model);
        using var cts = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync("Count to a thousand.", Greedy(400), cts.Token))
                if (++seen == 2) cts.Cancel();
        });
        Assert.Equal(2, seen);
        for (int i = 0; i < 200 && model.Engine.Stats.Running > 0; i++) await Task.Delay(10);
        Assert.Equal(0, model.Engine.Stats.Running);
    }

    [Fact]
    public async Task InvalidOptionIsRefusedNamingTheParameter()
    {
        IChatClient client = new QwenChatClient(ChatTestModel.Loaded);
        var e = await Assert.ThrowsAsync<SamplingParameterException>(() => client.GetResponseAsync("Hi", new ChatOptions { TopP = 1.5f }));
        Assert.Contains("top_p", e.Message);
        Assert.Contains("1.5", e.Message);
    }

    [Fact]
    public async Task ToolsOtherThanFunctionsAreRefusedRatherThanIgnored()
    {
        IChatClient client = new QwenChatClient(ChatTestModel.Loaded);
        var options = new ChatOptions { Tools = [new HostedWebSearchTool()] };
        var e = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync("Hi", options));
        Assert.Contains("HostedWebSearchTool", e.Message);
    }

    [Fact]
    public async Task ARequiredFunctionIsCalledWithTheToolsInThePrompt()
    {
        using var client = new QwenChatClient(ChatTestModel.Loaded);
        var options = new ChatOptions
        {
            Tools = [AIFunctionFactory.Create((bool loud) => 42, "answer")], ToolMode = ChatToolMode.RequireAny,
            AllowMultipleToolCalls = false, MaxOutputTokens = 200, Temperature = 1f, Seed = 3,
        };
        var response = await client.GetResponseAsync("Hi", options);
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("answer", call.Name);
        Assert.IsType<bool>(((System.Text.Json.JsonElement)call.Arguments!["loud"]!).GetBoolean());
        // The prompt holds the tool's definition (Qwen's tools block, since Qwen2's template has none).
        Assert.True(response.Usage!.InputTokenCount > client.PromptTokens([new ChatMessage(ChatRole.User, "Hi")]).Length + 50);
    }

    [Fact]
    public void GetServiceReturnsMetadataAndTheClient()
    {
        using var client = new QwenChatClient(ChatTestModel.Loaded, "my-qwen");
        var metadata = client.GetService<ChatClientMetadata>();
        Assert.NotNull(metadata);
        Assert.Equal("qwensharp", metadata!.ProviderName);
        Assert.Equal("my-qwen", metadata.DefaultModelId);
        Assert.Same(client, client.GetService<IChatClient>());
        Assert.Null(client.GetService<ChatClientMetadata>("some key"));
    }

    [Fact]
    public async Task ModelWithoutChatTemplateSaysSo()
    {
        using var client = new QwenChatClient(TinyModels.Gguf("tiny", GgmlType.F32), new EngineOptions { KvCacheBytes = 2 << 20 });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => client.GetResponseAsync("Hi"));
        Assert.Contains("no chat template", e.Message);
    }
}
