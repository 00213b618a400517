using System.Text.Json.Nodes;
using QwenSharp.Cli;
using QwenSharp.Tensors;
using QwenSharp.Tests.Clients;
using QwenSharp.Tests.Model;
using QwenSharp.Tests.Oracles;
using QwenSharp.Tests.Text;

namespace QwenSharp.Tests.Cli;

/// <summary>`qwensharp generate` end to end through CliApp.Run: against llama.cpp, Hugging Face token counts, and itself across seeds.</summary>
public class GenerateCommandTests
{
    internal static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static JsonObject Json(params string[] args)
    {
        var (code, stdout, stderr) = Run(args);
        Assert.True(code == 0, stderr);
        return (JsonObject)JsonNode.Parse(stdout)!;
    }

    private static int[] Ids(JsonNode? array) => ((JsonArray)array!).Select(n => (int)n!).ToArray();

    [Fact]
    public void RawGreedyJsonEqualsLlamaCppContinuation()
    {
        string path = ChatTestModel.Path;
        var json = Json("generate", "--model", path, "--prompt", "The quick brown fox", "--raw", "--json",
            "--temperature", "0", "--max-tokens", "32", "--ignore-eos", "--ctx", "128", "--threads", "2");
        int[] prompt = Ids(json["prompt_token_ids"]);
        int[] expected;
        using (var llama = new LlamaCpp(path, contextSize: 64))
            expected = llama.Greedy(prompt, 32);
        Assert.Equal(expected, Ids(json["token_ids"]));
        Assert.Equal("length", (string)json["finish_reason"]!);
        Assert.Equal(prompt.Length, (int)json["prompt_tokens"]!);
        Assert.Equal(32, (int)json["completion_tokens"]!);
        Assert.Equal(0.0, (double)json["sampling_params"]!["temperature"]!);
        Assert.Equal(32, (int)json["sampling_params"]!["max_tokens"]!);
    }

    [Fact]
    public void SeedsReproduceAndDiffer()
    {
        string path = ChatTestModel.Path;
        int[] Sample(string seed) => Ids(Json("generate", "--model", path, "--prompt", "abc", "--raw", "--json", "--temperature", "1",
            "--max-tokens", "16", "--ignore-eos", "--seed", seed, "--ctx", "64", "--threads", "2")["token_ids"]);
        var a = Sample("7");
        Assert.Equal(a, Sample("7"));
        Assert.NotEqual(a, Sample("8"));
    }

    [Fact]
    public void ChatPromptIsCountedAsHuggingFaceCountsItAndStreamsTheJsonText()
    {
        var hf = HfTokenizer.Load(Fixtures.Path("qwen2-tokenizer/tokenizer.json"));
        string path = ChatTestModel.Path;
        string[] common = ["generate", "--model", path, "--prompt", "Name three colours.", "--system", "Be brief.",
            "--temperature", "0", "--max-tokens", "10", "--ctx", "256", "--threads", "2"];
        var json = Json([.. common, "--json"]);
        Assert.Equal(hf.Encode(ChatTestModel.ChatMl(("system", "Be brief."), ("user", "Name three colours."))), Ids(json["prompt_token_ids"]));
        var (code, stdout, stderr) = Run(common);
        Assert.True(code == 0, stderr);
        Assert.Equal((string)json["text"]! + "\n", stdout);
        Assert.Contains("tokens/s", stderr);
    }

    [Fact]
    public void StopStringAcrossTokensIsNeverPrinted()
    {
        var model = ChatTestModel.Loaded;
        int[] prompt = model.Tokenizer.Encode("Once upon a time");
        var (stop, text) = StopStrings.AcrossBoundary(model, prompt, 40);
        var (code, stdout, stderr) = Run("generate", "--model", ChatTestModel.Path, "--prompt", "Once upon a time", "--raw",
            "--temperature", "0", "--max-tokens", "40", "--ignore-eos", "--stop", stop, "--ctx", "128", "--threads", "2");
        Assert.True(code == 0, stderr);
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)] + "\n", stdout);
        Assert.Contains("finish: stop", stderr);
    }

    [Fact]
    public void BadValuesAreOneLineErrors()
    {
        string path = TinyModels.Gguf("tiny", GgmlType.F32);
        var (code, _, stderr) = Run("generate", "--model", path, "--prompt", "x", "--raw", "--temperature", "-1", "--ctx", "64");
        Assert.Equal(1, code);
        Assert.Contains("temperature", stderr);
        Assert.Contains("-1", stderr);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));

        (code, _, stderr) = Run("generate", "--model", path, "--prompt", "x", "--raw", "--top-k", "many", "--ctx", "64");
        Assert.Equal(1, code);
        Assert.Contains("--top-k", stderr);
    }

    [Fact]
    public void TooLongPromptNamesCountsAndLimit()
    {
        string path = ChatTestModel.Path;
        string prompt = string.Join(" ", Enumerable.Range(0, 30).Select(i => "word" + i));
        var (code, _, stderr) = Run("generate", "--model", path, "--prompt", prompt, "--raw", "--max-tokens", "8", "--ctx", "32");
        Assert.Equal(1, code);
        // The memory plan stated before loading (three lines), then one error line.
        var lines = stderr.TrimEnd('\n').Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("Memory: weights ", lines[0]);
        Assert.StartsWith("KV cache: f16, ", lines[1]);
        Assert.StartsWith("Maximum concurrency for 32 tokens per request", lines[2]);
        Assert.StartsWith("error: ", lines[3]);
        int count = ChatTestModel.Loaded.Tokenizer.Encode(prompt).Length;
        Assert.Contains("is 32 tokens", stderr);
        Assert.Contains($"{count} in the prompt, 8 for the completion", stderr);
    }

    [Fact]
    public void ModelWithoutTemplateNeedsRaw()
    {
        var (code, _, stderr) = Run("generate", "--model", TinyModels.Gguf("tiny", GgmlType.F32), "--prompt", "x", "--ctx", "64");
        Assert.Equal(1, code);
        Assert.Contains("no chat template", stderr);
        Assert.Contains("--raw", stderr);
    }
}
