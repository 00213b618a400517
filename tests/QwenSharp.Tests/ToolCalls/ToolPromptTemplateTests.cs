using System.Text.Json.Nodes;
using QwenSharp.Text;
using QwenSharp.Text.ToolCalls;

namespace QwenSharp.Tests.ToolCalls;

public class ToolPromptTemplateTests
{
    private const string Qwen25System = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
    private const string Qwen2System = "You are a helpful assistant.";

    private static JsonArray Cases(string file) => (JsonArray)JsonNode.Parse(File.ReadAllText(Fixtures.Path(file)))!;

    private static ChatTemplate Fixture(string name)
    {
        string file = Fixtures.Path("templates/" + name);
        return ChatTemplate.Parse(File.ReadAllText(file), file, eosToken: "<|im_end|>");
    }

    private static string Render(ChatTemplate template, JsonObject c) => template.Render(
        (JsonArray)c["messages"]!.DeepClone(),
        c["tools"] is JsonArray tools ? (JsonArray)tools.DeepClone() : null,
        (bool)c["add_generation_prompt"]!,
        c["kwargs"] is JsonObject kwargs ? kwargs.ToDictionary(kv => kv.Key, kv => kv.Value?.DeepClone()) : null);

    [Fact]
    public void TheResourceIsQwen25sTemplateWithQwen2sSystemMessage()
    {
        string qwen25 = File.ReadAllText(Fixtures.Path("templates/qwen2.5-instruct.jinja"));
        Assert.Equal(2, qwen25.Split(Qwen25System).Length - 1);
        Assert.Equal(qwen25.Replace(Qwen25System, Qwen2System), ToolPromptTemplate.Qwen2ToolsSource);
    }

    [Fact]
    public void WithoutToolsItRendersAsQwen2InstructsOwnTemplate()
    {
        var cases = Cases("templates/cases.json").Cast<JsonObject>()
            .Where(c => (string)c["template"]! == "qwen2-instruct.jinja" && c["tools"] == null).ToList();
        Assert.True(cases.Count >= 4);
        var template = ToolPromptTemplate.Qwen2Tools(eosToken: "<|im_end|>");
        foreach (var c in cases) Assert.Equal((string)c["expected"]!, Render(template, c));
    }

    [Fact]
    public void WithToolsItRendersAsQwen25sTemplateWithQwen2sSystemLine()
    {
        var cases = Cases("templates/cases.json").Cast<JsonObject>().Where(c => (string)c["template"]! == "qwen2.5-instruct.jinja").ToList();
        // The swap must matter: some tool case falls back to the default system message.
        Assert.Contains(cases, c => c["tools"] != null && ((string)c["expected"]!).Contains(Qwen25System));
        var template = ToolPromptTemplate.Qwen2Tools(eosToken: "<|im_end|>");
        foreach (var c in cases) Assert.Equal(((string)c["expected"]!).Replace(Qwen25System, Qwen2System), Render(template, c));
    }

    public static IEnumerable<object[]> Jinja2CaseNames() =>
        Cases("tool-calls/template-cases.json").Select(c => new object[] { (string)c!["name"]! });

    /// <summary>Tools and tool history (calls with and without the "function" wrapper, arguments as an object or
    /// a string, consecutive tool results, a tool result first) rendered by Jinja2 with Hugging Face's settings.</summary>
    [Theory]
    [MemberData(nameof(Jinja2CaseNames))]
    public void ToolHistoryRendersLikeJinja2(string name)
    {
        var c = (JsonObject)Cases("tool-calls/template-cases.json").First(x => (string)x!["name"]! == name)!;
        var template = (string)c["template"]! == "qwen2-tools.jinja" ? ToolPromptTemplate.Qwen2Tools(eosToken: "<|im_end|>") : Fixture((string)c["template"]!);
        Assert.Equal((string)c["expected"]!, Render(template, c));
    }

    [Fact]
    public void TellsWhichTemplatesReadTools()
    {
        Assert.False(ToolPromptTemplate.ReadsTools(Fixture("qwen2-instruct.jinja")));
        Assert.True(ToolPromptTemplate.ReadsTools(Fixture("qwen2.5-instruct.jinja")));
        Assert.True(ToolPromptTemplate.ReadsTools(Fixture("qwen3.jinja")));
        Assert.True(ToolPromptTemplate.ReadsTools(ToolPromptTemplate.Qwen2Tools()));
        Assert.True(ToolPromptTemplate.ReadsTools(ChatTemplate.Parse("{% for t in tools %}{{ t }}{% endfor %}", "t")));
        Assert.True(ToolPromptTemplate.ReadsTools(ChatTemplate.Parse("{{ tools | tojson }}", "t")));
        // An attribute, a string literal and plain text are not the variable.
        Assert.False(ToolPromptTemplate.ReadsTools(ChatTemplate.Parse("{{ messages[0].tools }}{{ 'tools' }} tools", "t")));
    }

    [Fact]
    public void WithToolsTheToolUseTemplateIsTheOneAsked()
    {
        var named = ChatTemplate.ParseNamed(new Dictionary<string, string>
        {
            ["default"] = "{{ messages[0].content }}",
            ["tool_use"] = "{{ tools | length }}",
        }, "t");
        Assert.True(ToolPromptTemplate.ReadsTools(named));
        Assert.False(named.ReadsVariable("tools", hasTools: false));
    }

    [Fact]
    public void ForToolsKeepsATemplateThatReadsToolsAndReplacesOneThatDoesNot()
    {
        var qwen25 = Fixture("qwen2.5-instruct.jinja");
        Assert.Same(qwen25, ToolPromptTemplate.ForTools(qwen25));
        var replaced = ToolPromptTemplate.ForTools(Fixture("qwen2-instruct.jinja"));
        Assert.Equal(ToolPromptTemplate.Qwen2ToolsSource, replaced.Source);
        Assert.Equal("<|im_end|>", replaced.EosToken);
        Assert.Contains("qwen2-instruct.jinja", replaced.Origin);
    }
}
