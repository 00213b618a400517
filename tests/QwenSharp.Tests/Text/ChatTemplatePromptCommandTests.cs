using System.Text.Json.Nodes;

namespace QwenSharp.Tests.Text;

/// <summary>
/// `qwensharp prompt` end to end through CliApp.Run with string writers, on the fixture cases: the output
/// must be the reference prompt byte for byte, with nothing appended.
/// </summary>
public class ChatTemplatePromptCommandTests
{
    private static JsonObject Case(string name) =>
        (JsonObject)((JsonArray)JsonNode.Parse(File.ReadAllText(Fixtures.Path("templates/cases.json")))!)
            .First(c => (string)c!["name"]! == name)!;

    private static TempDir ModelFolder(string templateFile)
    {
        var dir = Fixtures.TempDir();
        File.Copy(Fixtures.Path("qwen2-tokenizer/tokenizer_config.json"), dir.File("tokenizer_config.json"));
        File.Copy(Fixtures.Path("templates/" + templateFile), dir.File("chat_template.jinja"));
        return dir;
    }

    [Fact]
    public void PrintsTheToolCasePromptExactly()
    {
        var c = Case("tools_call_and_response");
        using var dir = ModelFolder("qwen2.5-instruct.jinja");
        File.WriteAllText(dir.File("messages.json"), c["messages"]!.ToJsonString());
        File.WriteAllText(dir.File("tools.json"), c["tools"]!.ToJsonString());
        var (code, stdout, stderr) = Cli.Run("prompt", "--model", dir.Path, "--messages", dir.File("messages.json"), "--tools", dir.File("tools.json"));
        Assert.Equal("", stderr);
        Assert.Equal(0, code);
        Assert.Equal((string)c["expected"]!, stdout);
    }

    [Fact]
    public void VarIsReadAsJsonSoEnableThinkingFalseIsABoolean()
    {
        var c = Case("thinking_disabled");
        using var dir = ModelFolder("qwen3.jinja");
        File.WriteAllText(dir.File("messages.json"), c["messages"]!.ToJsonString());
        var (code, stdout, stderr) = Cli.Run("prompt", "--model", dir.Path, "--messages", dir.File("messages.json"), "--var", "enable_thinking=false");
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        Assert.Equal((string)c["expected"]!, stdout);
    }

    [Fact]
    public void ChatTemplateOptionAndNoGenerationPrompt()
    {
        var c = Case("multi_turn_no_gen_prompt");
        Assert.False((bool)c["add_generation_prompt"]!);
        using var dir = ModelFolder("qwen3.jinja");
        File.WriteAllText(dir.File("messages.json"), new JsonObject { ["messages"] = c["messages"]!.DeepClone() }.ToJsonString());
        var (code, stdout, _) = Cli.Run("prompt", "--model", dir.Path, "--messages", dir.File("messages.json"),
            "--chat-template", Fixtures.Path("templates/" + (string)c["template"]!), "--no-generation-prompt");
        Assert.Equal(0, code);
        Assert.Equal((string)c["expected"]!, stdout);
    }

    [Fact]
    public void StringVariablesAndTemplateErrorsAreReported()
    {
        using var dir = Fixtures.TempDir();
        File.WriteAllText(dir.File("chat_template.jinja"), "{{ greeting }}|{{ n + 1 }}\n{{ raise_exception('no ' ~ who) }}");
        File.WriteAllText(dir.File("messages.json"), "[]");
        var (code, stdout, stderr) = Cli.Run("prompt", "--model", dir.Path, "--messages", dir.File("messages.json"),
            "--var", "greeting=hello world", "--var", "n=41", "--var", "who=thanks");
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Contains("line 2", stderr);
        Assert.Contains("no thanks", stderr);
    }

    [Fact]
    public void GgufAndMissingFilesAreOneLineErrors()
    {
        using var dir = Fixtures.TempDir();
        File.WriteAllText(dir.File("model.gguf"), "GGUF");
        File.WriteAllText(dir.File("messages.json"), "[]");
        var (code, _, stderr) = Cli.Run("prompt", "--model", dir.File("model.gguf"), "--messages", dir.File("messages.json"));
        Assert.Equal(1, code);
        Assert.Contains("model.gguf", stderr);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));
        (code, _, stderr) = Cli.Run("prompt", "--model", dir.Path, "--messages", dir.File("nope.json"));
        Assert.Equal(1, code);
        Assert.Contains("nope.json", stderr);
        (code, _, stderr) = Cli.Run("prompt", "--model", dir.Path, "--messages", dir.File("messages.json"));
        Assert.Equal(1, code);
        Assert.Contains("no chat template", stderr);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));
    }

    private static class Cli
    {
        public static (int Code, string Stdout, string Stderr) Run(params string[] args)
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            int code = QwenSharp.Cli.CliApp.Run(args, stdout, stderr);
            return (code, stdout.ToString(), stderr.ToString());
        }
    }
}
