using System.Text.Json.Nodes;
using QwenSharp.Text.ToolCalls;

namespace QwenSharp.Tests.ToolCalls;

public class ToolDefinitionTests
{
    private static JsonNode Tools(string json) => JsonNode.Parse(json)!;

    private const string Weather = """{"type": "function", "function": {"name": "get_weather", "description": "Weather now", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}""";
    private const string Time = """{"type": "function", "function": {"name": "get-time_2"}}""";

    [Fact]
    public void ReadsOpenAiToolEntries()
    {
        var tools = ToolDefinition.ParseAll(Tools($"[{Weather}, {Time}]"));
        Assert.Equal(["get_weather", "get-time_2"], tools.Select(t => t.Name));
        Assert.Equal("Weather now", tools[0].Description);
        Assert.Equal("object", (string)tools[0].Parameters!["type"]!);
        Assert.Null(tools[1].Description);
        Assert.Null(tools[1].Parameters);
        // The template gets the entries exactly as sent.
        Assert.Equal($"[{Weather}, {Time}]".Replace(" ", ""), ToolDefinition.ToTemplateInput(tools).ToJsonString().Replace(" ", ""));
        Assert.Empty(ToolDefinition.ParseAll(null));
    }

    [Theory]
    [InlineData("""{"tools": 1}""", "tools must be an array", "tools")]
    [InlineData("""[3]""", "tools[0] must be an object", "tools[0]")]
    [InlineData("""[{"type": "retrieval", "function": {"name": "f"}}]""", "tools[0].type must be \"function\", not the string \"retrieval\"", "tools[0].type")]
    [InlineData("""[{"function": {"name": "f"}}]""", "tools[0].type must be \"function\", not null", "tools[0].type")]
    [InlineData("""[{"type": "function"}]""", "tools[0].function must be an object", "tools[0].function")]
    [InlineData("""[{"type": "function", "function": {"description": "x"}}]""", "tools[0].function.name is missing", "tools[0].function.name")]
    [InlineData("""[{"type": "function", "function": {"name": 7}}]""", "tools[0].function.name must be a string, not the number 7", "tools[0].function.name")]
    [InlineData("""[{"type": "function", "function": {"name": "get weather"}}]""", "tools[0].function.name 'get weather' must be 1 to 64", "tools[0].function.name")]
    [InlineData("""[{"type": "function", "function": {"name": ""}}]""", "tools[0].function.name '' must be 1 to 64", "tools[0].function.name")]
    [InlineData("""[{"type": "function", "function": {"name": "f", "parameters": [1]}}]""", "tools[0].function.parameters must be a JSON Schema object, not the array [1]", "tools[0].function.parameters")]
    [InlineData("""[{"type": "function", "function": {"name": "f", "parameters": "{}"}}]""", "tools[0].function.parameters must be a JSON Schema object", "tools[0].function.parameters")]
    [InlineData("""[{"type": "function", "function": {"name": "f", "description": 1}}]""", "tools[0].function.description must be a string", "tools[0].function.description")]
    [InlineData("""[{"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "g"}}, {"type": "function", "function": {"name": "f"}}]""",
        "tools[2].function.name 'f' is already the name of tools[0]", "tools[2].function.name")]
    public void RefusesBadEntriesWithOneSentence(string json, string message, string param)
    {
        var node = JsonNode.Parse(json);
        var e = Assert.Throws<ToolRequestException>(() => ToolDefinition.ParseAll(node is JsonObject o ? o["tools"] : node));
        Assert.StartsWith(message, e.Message);
        Assert.EndsWith(".", e.Message);
        Assert.DoesNotContain("\n", e.Message);
        Assert.Equal(param, e.Param);
    }

    [Fact]
    public void SixtyFourCharactersIsTheLongestName()
    {
        Assert.Single(ToolDefinition.ParseAll(Tools("[{\"type\": \"function\", \"function\": {\"name\": \"" + new string('a', 64) + "\"}}]")));
        Assert.Throws<ToolRequestException>(() => ToolDefinition.ParseAll(Tools("[{\"type\": \"function\", \"function\": {\"name\": \"" + new string('a', 65) + "\"}}]")));
    }

    [Fact]
    public void AHugeValueIsShortenedInTheMessage()
    {
        string big = "[" + string.Join(",", Enumerable.Repeat("1", 10_000)) + "]";
        var e = Assert.Throws<ToolRequestException>(() => ToolDefinition.ParseAll(Tools("[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": " + big + "}}]")));
        Assert.True(e.Message.Length < 200, e.Message);
    }
}

public class ToolChoiceTests
{
    private static readonly IReadOnlyList<ToolDefinition> Tools = ToolDefinition.ParseAll(JsonNode.Parse(
        """[{"type": "function", "function": {"name": "get_weather"}}, {"type": "function", "function": {"name": "get_time"}}]"""));

    [Fact]
    public void ReadsTheFourForms()
    {
        Assert.Equal(new ToolChoice(ToolChoiceMode.Auto), ToolChoice.Parse(JsonValue.Create("auto"), Tools));
        Assert.Equal(new ToolChoice(ToolChoiceMode.None), ToolChoice.Parse(JsonValue.Create("none"), Tools));
        Assert.Equal(new ToolChoice(ToolChoiceMode.Required), ToolChoice.Parse(JsonValue.Create("required"), Tools));
        Assert.Equal(new ToolChoice(ToolChoiceMode.Function, "get_time"),
            ToolChoice.Parse(JsonNode.Parse("""{"type": "function", "function": {"name": "get_time"}}"""), Tools));
    }

    [Fact]
    public void AbsentMeansAutoWithToolsAndNoneWithout()
    {
        Assert.Equal(ToolChoiceMode.Auto, ToolChoice.Parse(null, Tools).Mode);
        Assert.Equal(ToolChoiceMode.None, ToolChoice.Parse(null, []).Mode);
        Assert.Equal(ToolChoiceMode.Auto, ToolChoice.Parse(JsonValue.Create("auto"), []).Mode);
    }

    [Fact]
    public void AnUnknownFunctionIsNamed()
    {
        var e = Assert.Throws<ToolRequestException>(() =>
            ToolChoice.Parse(JsonNode.Parse("""{"type": "function", "function": {"name": "get_stock"}}"""), Tools));
        Assert.Equal("tool_choice names the function 'get_stock', which is not among the request's tools (the tools are 'get_weather', 'get_time').", e.Message);
        Assert.Equal("tool_choice.function.name", e.Param);
    }

    [Theory]
    [InlineData("\"sometimes\"", "tool_choice 'sometimes' is not one of")]
    [InlineData("3", "tool_choice must be \"auto\", \"none\", \"required\" or")]
    [InlineData("""{"type": "function", "name": "get_time"}""", "tool_choice must be")]
    [InlineData("""{"type": "tool", "function": {"name": "get_time"}}""", "tool_choice must be")]
    [InlineData("""{"type": "function", "function": {"name": 1}}""", "tool_choice must be")]
    public void RefusesOtherShapes(string json, string message)
    {
        var e = Assert.Throws<ToolRequestException>(() => ToolChoice.Parse(JsonNode.Parse(json), Tools));
        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public void RequiredAndNamedNeedTools()
    {
        Assert.Contains("needs at least one tool", Assert.Throws<ToolRequestException>(() => ToolChoice.Parse(JsonValue.Create("required"), [])).Message);
        Assert.Contains("the request has no tools", Assert.Throws<ToolRequestException>(() =>
            ToolChoice.Parse(JsonNode.Parse("""{"type": "function", "function": {"name": "f"}}"""), [])).Message);
    }
}
