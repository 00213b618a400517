using System.Text.Json.Nodes;
using QwenSharp.Text;

namespace QwenSharp.Tests.Text;

/// <summary>
/// Every conversation in fixtures/templates/cases.json, rendered by the reference Jinja2 with Hugging Face's
/// apply_chat_template settings, must come out byte for byte the same from our interpreter.
/// </summary>
public class ChatTemplateCasesTests
{
    private static JsonArray Cases() => (JsonArray)JsonNode.Parse(File.ReadAllText(Fixtures.Path("templates/cases.json")))!;

    public static IEnumerable<object[]> CaseNames() => Cases().Select(c => new object[] { (string)c!["name"]! });

    [Fact]
    public void TheFixtureHasCasesForEveryTemplate()
    {
        var templates = Cases().Select(c => (string)c!["template"]!).Distinct().ToList();
        Assert.Equal(["qwen2-instruct.jinja", "qwen2.5-instruct.jinja", "qwen3.jinja"], templates.Order());
        Assert.True(Cases().Count >= 12);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void RendersLikeHuggingFace(string name)
    {
        var c = (JsonObject)Cases().First(x => (string)x!["name"]! == name)!;
        string file = Fixtures.Path("templates/" + (string)c["template"]!);
        var template = ChatTemplate.Parse(File.ReadAllText(file), file);
        var extra = ((JsonObject)c["kwargs"]!).ToDictionary(kv => kv.Key, kv => kv.Value?.DeepClone());
        string rendered = template.Render(
            (JsonArray)c["messages"]!.DeepClone(),
            c["tools"] is JsonArray tools ? (JsonArray)tools.DeepClone() : null,
            (bool)c["add_generation_prompt"]!,
            extra);
        Assert.Equal((string)c["expected"]!, rendered);
    }

    [Fact]
    public void TheTokenizerConfigTemplateMatchesTheQwen2File()
    {
        // tokenizer_config.json of Qwen2-7B-Instruct carries the same template as qwen2-instruct.jinja.
        var fromFolder = ChatTemplate.FromModelFolder(Path.GetDirectoryName(Fixtures.Path("qwen2-tokenizer/tokenizer_config.json"))!);
        Assert.Equal("<|im_end|>", fromFolder.EosToken);
        Assert.Null(fromFolder.BosToken);
        var c = (JsonObject)Cases().First(x => (string)x!["name"]! == "seed_quickstart")!;
        Assert.Equal((string)c["expected"]!, fromFolder.Render((JsonArray)c["messages"]!.DeepClone()));
    }
}
