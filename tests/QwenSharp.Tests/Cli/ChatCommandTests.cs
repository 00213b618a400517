using System.Text.Json.Nodes;
using QwenSharp.Cli;
using QwenSharp.Cli.Commands;
using QwenSharp.Engine;
using QwenSharp.Generation;
using QwenSharp.Tests.Clients;

namespace QwenSharp.Tests.Cli;

/// <summary>
/// `qwensharp chat` on piped input: each greedy reply must equal a one-shot generation over the conversation as
/// it should stand at that point (history kept, /system applied, /reset forgetting), computed here directly on
/// the engine with the messages written out by hand.
/// </summary>
public class ChatCommandTests
{
    private static (int Code, string Stdout, string Stderr) Chat(string input, params string[] args)
    {
        var command = new ChatCommand(new StringReader(input));
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = command.Run(new CliArgs(args, command.Flags), stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string Reply(LoadedModel model, int maxTokens, params (string Role, string Content)[] messages)
    {
        var array = new JsonArray(messages.Select(m => (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content }).ToArray());
        int[] prompt = model.Tokenizer.Encode(model.RenderChat(array));
        var p = new SamplingParams { Temperature = 0, MaxTokens = maxTokens };
        GenerationResult? result = null;
        foreach (var e in model.GenerateAsync(prompt, model.Resolve(p, prompt.Length)).ToBlockingEnumerable())
            result = e.Result ?? result;
        return result!.Text;
    }

    [Fact]
    public void TranscriptKeepsTheConversationAndObeysResetAndSystem()
    {
        const int n = 6;
        var (code, stdout, stderr) = Chat("Hello!\n/system You answer in French.\nHow are you?\n\n/frobnicate\n/reset\nHello!\n/exit\nnever read\n",
            "--model", ChatTestModel.Path, "--temperature", "0", "--max-tokens", n.ToString(), "--ctx", "256", "--threads", "2");
        Assert.True(code == 0, stderr);

        var model = ChatTestModel.Loaded;
        string first = Reply(model, n, ("user", "Hello!"));
        string second = Reply(model, n, ("system", "You answer in French."), ("user", "Hello!"), ("assistant", first), ("user", "How are you?"));
        string third = Reply(model, n, ("system", "You answer in French."), ("user", "Hello!"));
        Assert.NotEqual(first, third);
        Assert.Equal(first + "\n" + second + "\n" + third + "\n", stdout);

        Assert.Contains("Loaded in", stderr);
        Assert.Contains("(conversation cleared)", stderr);
        Assert.Contains("Unknown command /frobnicate", stderr);
        Assert.Equal(3, stderr.Split("tokens/s").Length - 1);
    }

    [Fact]
    public void EndOfInputEndsTheChat()
    {
        var (code, stdout, stderr) = Chat("Hi\n", "--model", ChatTestModel.Path, "--temperature", "0", "--max-tokens", "2", "--ctx", "64", "--threads", "2");
        Assert.True(code == 0, stderr);
        Assert.Equal(Reply(ChatTestModel.Loaded, 2, ("user", "Hi")) + "\n", stdout);
    }

    [Fact]
    public void BadSamplingValueIsRefusedBeforeLoading()
    {
        var e = Assert.Throws<SamplingParameterException>(() => Chat("", "--model", "/nonexistent/model.gguf", "--top-p", "0"));
        Assert.Contains("top_p", e.Message);
    }
}
