using System.Text.Json.Nodes;
using QwenSharp.Text;
using QwenSharp.Text.ToolCalls;

namespace QwenSharp.Tests.ToolCalls;

public class ToolCallHistoryTests
{
    private static JsonObject Case(string name) => (JsonObject)((JsonArray)JsonNode.Parse(File.ReadAllText(Fixtures.Path("tool-calls/template-cases.json")))!)
        .First(c => (string)c!["name"]! == name)!;

    /// <summary>A history sent the OpenAI way (arguments as JSON strings) renders as Jinja2 renders the same
    /// history with arguments as objects.</summary>
    [Theory]
    [InlineData("history_without_tools (qwen2.5-instruct.jinja)")]
    [InlineData("history_two_calls_two_results (qwen2-tools.jinja)")]
    public void StringArgumentsRenderAsObjectArgumentsTemplateCase(string name)
    {
        var c = Case(name);
        var messages = (JsonArray)c["messages"]!.DeepClone();
        foreach (var call in messages.OfType<JsonObject>().Where(m => m["tool_calls"] != null).SelectMany(m => ((JsonArray)m["tool_calls"]!).OfType<JsonObject>()))
            call["function"]!["arguments"] = call["function"]!["arguments"]!.ToJsonString();
        string file = Fixtures.Path("templates/qwen2.5-instruct.jinja");
        var template = (string)c["template"]! == "qwen2-tools.jinja" ? ToolPromptTemplate.Qwen2Tools() : ChatTemplate.Parse(File.ReadAllText(file), file);
        var tools = c["tools"] is JsonArray t ? (JsonArray)t.DeepClone() : null;
        // Without the conversion the template quotes the string (the arguments_as_string case shows Jinja2 doing so).
        Assert.NotEqual((string)c["expected"]!, template.Render(messages, tools, (bool)c["add_generation_prompt"]!));
        Assert.Equal((string)c["expected"]!, template.Render(ToolCallHistory.ForTemplate(messages), tools, (bool)c["add_generation_prompt"]!));
    }

    [Fact]
    public void EmptyArgumentsBecomeAnEmptyObjectAndEmptyCallListsGo()
    {
        var messages = (JsonArray)JsonNode.Parse("""
            [{"role": "assistant", "content": "x", "tool_calls": []},
             {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": ""}},
                                                  {"type": "function", "function": {"name": "g"}}]}]
            """)!;
        var ready = ToolCallHistory.ForTemplate(messages);
        Assert.False(((JsonObject)ready[0]!).ContainsKey("tool_calls"));
        Assert.Equal("{}", ready[1]!["tool_calls"]![0]!["function"]!["arguments"]!.ToJsonString());
        Assert.Equal("{}", ready[1]!["tool_calls"]![1]!["function"]!["arguments"]!.ToJsonString());
        // The request itself is left as it was.
        Assert.Equal("", (string)messages[1]!["tool_calls"]![0]!["function"]!["arguments"]!);
    }

    [Fact]
    public void ArgumentsThatAreNotJsonAreNamed()
    {
        var messages = (JsonArray)JsonNode.Parse("""
            [{"role": "user", "content": "hi"},
             {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{city: Paris}"}}]}]
            """)!;
        var e = Assert.Throws<ToolRequestException>(() => ToolCallHistory.ForTemplate(messages));
        Assert.StartsWith("messages[1].tool_calls[0].function.arguments must be a JSON text, and '{city: Paris}' is not", e.Message);
        Assert.Equal("messages[1].tool_calls[0].function.arguments", e.Param);
    }
}
