using QwenSharp.Text.ToolCalls;

namespace QwenSharp.Tests.ToolCalls;

public class ToolCallParserTests
{
    [Fact]
    public void TheFixtureCoversCallsAndMalformedBlocks()
    {
        Assert.True(ToolCallCase.All.Count(c => c.ToolsCalled) >= 15);
        Assert.True(ToolCallCase.All.Count(c => !c.ToolsCalled && c.Text.Contains("<tool_call>")) >= 15);
    }

    [Theory]
    [MemberData(nameof(ToolCallCase.Names), MemberType = typeof(ToolCallCase))]
    public void ParsesLikeVllmsHermesParser(string name)
    {
        var c = ToolCallCase.Get(name);
        int n = 0;
        var parse = ToolCallParser.Parse(c.Text, () => $"id{n++}");
        Assert.Equal(c.Content, parse.Content);
        Assert.Equal(c.Calls, parse.Calls.Select(x => (x.Name, x.Arguments)).ToList());
        Assert.Equal(Enumerable.Range(0, c.Calls.Count).Select(i => $"id{i}"), parse.Calls.Select(x => x.Id));
        Assert.All(parse.Calls, x => Assert.Equal("function", x.Type));
        // An error is given exactly when markup was present but left as text.
        Assert.Equal(!c.ToolsCalled && c.Text.Contains("<tool_call>"), parse.Error != null);
    }

    [Fact]
    public void ALoneSurrogateEscapeIsKeptAsPythonKeepsIt()
    {
        // json.loads('"\\ud800x"') is '\ud800x'; json.dumps(..., ensure_ascii=False) writes the lone surrogate raw.
        var parse = ToolCallParser.Parse("<tool_call>{\"name\": \"f\", \"arguments\": {\"s\": \"\\ud800x\"}}</tool_call>");
        Assert.Equal("{\"s\": \"\ud800x\"}", Assert.Single(parse.Calls).Arguments);
    }

    [Fact]
    public void NestingPastTheDepthLimitIsMalformedNotACrash()
    {
        string deep = new string('[', 100_000) + new string(']', 100_000);
        var parse = ToolCallParser.Parse("<tool_call>{\"name\": \"f\", \"arguments\": " + deep + "}</tool_call>");
        Assert.Empty(parse.Calls);
        Assert.Contains("nested deeper", parse.Error);
    }

    [Theory]
    [InlineData("<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": 1", "tool call block 1 is left as text: the JSON ends before its value is complete.")]
    [InlineData("<tool_call>{\"name\": \"f\"}</tool_call>", "tool call block 1 is left as text: its JSON has no \"arguments\".")]
    [InlineData("<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call><tool_call>[]</tool_call>", "tool call block 2 is left as text: its JSON is not an object.")]
    public void SaysWhyMarkupWasLeftAsText(string text, string error)
    {
        var parse = ToolCallParser.Parse(text);
        Assert.Equal(text, parse.Content);
        Assert.Equal(error, parse.Error);
    }

    [Fact]
    public void IdsLookLikeOpenAisAndDiffer()
    {
        var ids = Enumerable.Range(0, 50).Select(_ => ToolCall.NewId()).ToList();
        Assert.All(ids, id => Assert.Matches("^call_[A-Za-z0-9]{24}$", id));
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }
}
