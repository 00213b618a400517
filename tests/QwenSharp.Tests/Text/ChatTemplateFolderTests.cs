using System.Text.Json.Nodes;
using QwenSharp.Text;
using QwenSharp.Text.Jinja;

namespace QwenSharp.Tests.Text;

/// <summary>
/// Finding a model's template the way transformers does: chat_template.jinja wins over
/// tokenizer_config.json; a list of {name, template} gives named templates, "tool_use" chosen when tools
/// are passed (tokenization_utils_base.get_chat_template); special tokens as strings or {"content": …}.
/// </summary>
public class ChatTemplateFolderTests
{
    private static readonly JsonArray Hello = new(new JsonObject { ["role"] = "user", ["content"] = "hi" });

    private static void WriteConfig(TempDir dir, JsonObject config) => File.WriteAllText(dir.File("tokenizer_config.json"), config.ToJsonString());

    [Fact]
    public void ChatTemplateJinjaFileWinsOverTheConfigAndTokensMayBeObjects()
    {
        using var dir = Fixtures.TempDir();
        WriteConfig(dir, new JsonObject
        {
            ["chat_template"] = "config template",
            ["bos_token"] = new JsonObject { ["content"] = "<s>", ["lstrip"] = false },
            ["eos_token"] = "</s>",
        });
        File.WriteAllText(dir.File("chat_template.jinja"), "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}\n");
        var t = ChatTemplate.FromModelFolder(dir.Path);
        Assert.Equal("<s>", t.BosToken);
        Assert.Equal("<s>hi</s>", t.Render(Hello));
        Assert.Equal(dir.File("chat_template.jinja"), t.Origin);
    }

    [Fact]
    public void NamedTemplatesPickToolUseOnlyWithTools()
    {
        using var dir = Fixtures.TempDir();
        WriteConfig(dir, new JsonObject
        {
            ["chat_template"] = new JsonArray(
                new JsonObject { ["name"] = "default", ["template"] = "default:{{ tools }}" },
                new JsonObject { ["name"] = "tool_use", ["template"] = "tool_use:{{ tools|length }}" }),
        });
        var t = ChatTemplate.FromModelFolder(dir.Path);
        Assert.Equal(["default", "tool_use"], t.Names.Order());
        Assert.Equal("default:None", t.Render(Hello));
        Assert.Equal("tool_use:1", t.Render(Hello, new JsonArray(new JsonObject { ["type"] = "function" })));
    }

    [Fact]
    public void MissingTokensAreUndefinedNotNone()
    {
        using var dir = Fixtures.TempDir();
        WriteConfig(dir, new JsonObject { ["chat_template"] = "{{ bos_token is defined }}/{{ eos_token is defined }}/{{ documents is none }}", ["bos_token"] = null });
        Assert.Equal("False/False/True", ChatTemplate.FromModelFolder(dir.Path).Render(Hello));
    }

    [Fact]
    public void ProblemsNameTheFile()
    {
        using var dir = Fixtures.TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => ChatTemplate.FromModelFolder(dir.Path));
        Assert.Contains("no chat template", e.Message);

        File.WriteAllText(dir.File("tokenizer_config.json"), "{ \"chat_template\": ");
        var bad = Assert.Throws<InvalidDataException>(() => ChatTemplate.FromModelFolder(dir.Path));
        Assert.Contains("tokenizer_config.json", bad.Message);

        WriteConfig(dir, new JsonObject { ["chat_template"] = "ok\n{% for %}" });
        var syntax = Assert.Throws<TemplateException>(() => ChatTemplate.FromModelFolder(dir.Path));
        Assert.Equal(2, syntax.Line);
        Assert.Contains("tokenizer_config.json", syntax.Message);
    }

    [Fact]
    public void GgufFilesGiveTheirTemplateAndSpecialTokens()
    {
        using var dir = Fixtures.TempDir();
        var writer = new QwenSharp.Formats.GgufWriter();
        writer.SetString("general.architecture", "qwen2");
        writer.SetString("tokenizer.chat_template", "{{ bos_token }}{{ messages[0]['content'] }}{{ eos_token }}");
        writer.SetArray("tokenizer.ggml.tokens", QwenSharp.Formats.GgufArray.Of(["a", "<s>", "</s>"]));
        writer.SetUInt32("tokenizer.ggml.bos_token_id", 1);
        writer.SetUInt32("tokenizer.ggml.eos_token_id", 2);
        writer.Write(dir.File("m.gguf"));
        Assert.Equal("<s>hi</s>", ChatTemplate.FromModel(dir.File("m.gguf")).Render(Hello));
    }

    [Fact]
    public void TruncatedGgufIsOneClearError()
    {
        using var dir = Fixtures.TempDir();
        File.WriteAllText(dir.File("m.gguf"), "GGUF");
        var e = Assert.Throws<FormatException>(() => ChatTemplate.FromModel(dir.File("m.gguf")));
        Assert.Contains("m.gguf", e.Message);
    }

    [Fact]
    public void StrftimeNowUsesTheGivenClock()
    {
        // Llama 3.x templates print today's date with strftime_now("%d %b %Y").
        var t = ChatTemplate.Parse("{{ strftime_now('%d %b %Y, %A %H:%M') }}", "t");
        Assert.Equal("05 Mar 2025, Wednesday 14:07", t.Render(Hello, now: () => new DateTime(2025, 3, 5, 14, 7, 0)));
    }

    [Fact]
    public void JsonBuiltInCodeReadsLikeParsedJson()
    {
        // Values created from CLR objects render as the same JSON text would (json.loads semantics:
        // 3 is an int, 2.5 a float, a Guid a string, a wrapped array a list).
        var t = ChatTemplate.Parse("{% set m = messages[0].m %}{{ m.n }} {{ m.f }} {{ m.g }} {{ m.l|tojson }} {{ m.n is integer }}", "t");
        var message = new JsonObject
        {
            ["n"] = 3,
            ["f"] = 2.5,
            ["g"] = JsonValue.Create(Guid.Parse("00000000-0000-0000-0000-000000000001")),
            ["l"] = JsonValue.Create(new[] { 1, 2 }),
        };
        Assert.Equal("3 2.5 00000000-0000-0000-0000-000000000001 [1, 2] True",
            t.Render(new JsonArray(new JsonObject { ["m"] = message }), addGenerationPrompt: false));
    }
}
