using System.Text.Json.Nodes;
using QwenSharp.Text;
using QwenSharp.Text.Jinja;

namespace QwenSharp.Tests.Text;

/// <summary>
/// What a request can send that a template cannot take (issue #14): extra variables that clash with the ones
/// the renderer sets, values of the wrong type, absurdly deep or long values. Each must be a
/// <see cref="TemplateException"/> (which the server answers with 400) naming the variable or the template
/// line, never an unhandled .NET exception (a 500).
/// </summary>
public class ChatTemplateInputTests
{
    private static JsonArray User(JsonNode? content) => new(new JsonObject { ["role"] = "user", ["content"] = content });

    private static ChatTemplate Fixture(string name) =>
        ChatTemplate.Parse(File.ReadAllText(Fixtures.Path("templates/" + name)), name);

    /// <summary>The 1-based line of the fixture template that contains <paramref name="text"/>.</summary>
    private static int LineOf(string name, string text) =>
        File.ReadAllLines(Fixtures.Path("templates/" + name)).Select((l, i) => (l, i)).First(x => x.l.Contains(text, StringComparison.Ordinal)).i + 1;

    [Theory]
    [InlineData("messages", "the conversation")]
    [InlineData("tools", "the tool definitions")]
    [InlineData("documents", "the documents")]
    [InlineData("add_generation_prompt", "whether to open the assistant's turn")]
    public void AnExtraVariableTheRendererSetsIsAnInputError(string name, string meaning)
    {
        var template = Fixture("qwen2.5-instruct.jinja");
        var e = Assert.Throws<TemplateException>(() =>
            template.Render(User("hi"), extraVariables: new Dictionary<string, JsonNode?> { [name] = 1 }));
        Assert.Equal(TemplateErrorKind.Input, e.Kind);
        Assert.Equal(name, e.Variable);
        Assert.Equal($"qwen2.5-instruct.jinja: invalid template input: the template variable '{name}' is set by the renderer ({meaning}) " +
                     "and cannot also be passed as an extra variable", e.Message);
    }

    [Fact]
    public void SpecialTokensMayBeOverriddenAsHuggingFaceMergesKwargsOverThem()
    {
        var template = ChatTemplate.Parse("{{ bos_token }}{{ messages[0].content }}", "t", bosToken: "<s>");
        Assert.Equal("<b>hi", template.Render(User("hi"), extraVariables: new Dictionary<string, JsonNode?> { ["bos_token"] = "<b>" }));
    }

    [Theory]
    [InlineData("qwen2.5-instruct.jinja", "42", "'<|im_start|>' + message.role + '\\n' + message.content", "can only concatenate str (not \"int\") to str")]
    [InlineData("qwen2.5-instruct.jinja", "{\"text\": \"hi\"}", "'<|im_start|>' + message.role + '\\n' + message.content", "can only concatenate str (not \"dict\") to str")]
    [InlineData("qwen2.5-instruct.jinja", "[\"hi\"]", "'<|im_start|>' + message.role + '\\n' + message.content", "can only concatenate str (not \"list\") to str")]
    [InlineData("qwen3.jinja", "42", "message.content.startswith('<tool_response>')", "'int object' has no attribute 'startswith'")]
    [InlineData("qwen3.jinja", "{\"text\": \"hi\"}", "message.content.startswith('<tool_response>')", "'dict object' has no attribute 'startswith'")]
    [InlineData("qwen2-instruct.jinja", "true", "message['content']", "can only concatenate str (not \"bool\") to str")]
    public void AContentOfTheWrongTypeIsATemplateErrorAtItsLine(string file, string contentJson, string lineText, string detail)
    {
        var e = Assert.Throws<TemplateException>(() => Fixture(file).Render(User(JsonNode.Parse(contentJson))));
        Assert.Equal(TemplateErrorKind.Runtime, e.Kind);
        Assert.Equal(LineOf(file, lineText), e.Line);
        Assert.Contains(detail, e.Message);
    }

    [Fact]
    public void InputNestedTooDeeplyOrWithHugeIntegersIsRefused()
    {
        static JsonNode Nested(int depth)
        {
            JsonNode node = new JsonArray();
            for (int i = 1; i < depth; i++) node = new JsonArray(node);
            return node;
        }
        static JsonNode Integer(int digits) => JsonNode.Parse(new string('7', digits))!;
        var template = ChatTemplate.Parse("{{ messages[0].content }}|{{ x|tojson|length }}", "t");
        string Render(JsonNode content, JsonNode x) => template.Render(User(content), extraVariables: new Dictionary<string, JsonNode?> { ["x"] = x });

        Assert.Equal(new string('7', 4300) + "|" + (2 * 150), Render(Integer(4300), Nested(150)));
        var e = Assert.Throws<TemplateException>(() => Render("hi", Nested(300)));
        Assert.Equal(TemplateErrorKind.Input, e.Kind);
        Assert.Equal("t: invalid template input: the variable 'x' holds a value nested deeper than 200 levels (TemplateLimits.MaxDepth)", e.Message);
        Assert.Equal("x", e.Variable);
        e = Assert.Throws<TemplateException>(() => Render(Integer(5000), 1));
        Assert.Equal(TemplateErrorKind.Input, e.Kind);
        Assert.Equal("t: invalid template input: the variable 'messages' holds an integer of 5000 digits, more than the 4300 Python converts", e.Message);
        Assert.Equal("messages", e.Variable);
    }

    [Theory]
    [InlineData(typeof(InvalidCastException))]
    [InlineData(typeof(NullReferenceException))]
    [InlineData(typeof(KeyNotFoundException))]
    [InlineData(typeof(IndexOutOfRangeException))]
    [InlineData(typeof(OverflowException))]
    [InlineData(typeof(InsufficientExecutionStackException))]
    public void ADotNetExceptionInsideAnExpressionBecomesATemplateErrorWithTheLine(Type type)
    {
        var boom = new JinjaFunction("boom", _ => throw (Exception)Activator.CreateInstance(type, "detail")!);
        // The expression spans lines 2 and 3: the error names the line of the innermost expression, the call.
        var e = Assert.Throws<TemplateException>(() =>
            JinjaTemplate.Parse("a\n{% if true %}{{ 1 +\nboom() }}{% endif %}", "t.jinja").Render(new Dictionary<string, object?> { ["boom"] = boom }));
        Assert.Equal(TemplateErrorKind.Runtime, e.Kind);
        Assert.Equal(3, e.Line);
        Assert.Equal($"t.jinja, line 3: template error: internal error ({type.Name}: detail)", e.Message);
    }

    [Theory]
    [InlineData("x\n{{ (-9223372036854775807 - 1)|abs }}", 2)]
    [InlineData("x\n{{ -(-9223372036854775807 - 1) }}", 2)]
    [InlineData("{{ 0xFFFFFFFFFFFFFFFFFF }}", 1)]
    public void ArithmeticPast64BitsIsUnsupportedNotAnOverflowException(string template, int line)
    {
        var e = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse(template, "t.jinja").Render(new Dictionary<string, object?>()));
        Assert.Equal(TemplateErrorKind.Unsupported, e.Kind);
        Assert.Equal(line, e.Line);
        Assert.Contains("beyond 64 bits", e.Message);
    }
}
