using System.Text;
using QwenSharp.Text.ToolCalls;

namespace QwenSharp.Tests.ToolCalls;

/// <summary>
/// The splitter against the parser: every way of cutting each fixture text into deltas (all two-way cuts,
/// seeded random many-way cuts) must stream the content and the calls the parser finds in the whole text,
/// and never send as content anything that turns out to be markup.
/// </summary>
public class ToolCallStreamSplitterTests
{
    private sealed record Streamed(string Content, List<(string Id, string Name, string Arguments)> Calls, ToolCallStreamEnd End,
        List<ToolCallStreamEvent> Events);

    private static Streamed Run(IEnumerable<string> pieces, bool deferCalls)
    {
        int n = 0;
        var splitter = new ToolCallStreamSplitter(() => $"id{n++}", deferCalls);
        var events = new List<ToolCallStreamEvent>();
        foreach (string piece in pieces) events.AddRange(splitter.Push(piece));
        var end = splitter.Finish();
        events.AddRange(end.Events);
        var content = new StringBuilder();
        var calls = new List<(string Id, string Name, StringBuilder Arguments)>();
        foreach (var e in events)
        {
            switch (e)
            {
                case ContentDelta d:
                    Assert.NotEmpty(d.Text);
                    content.Append(d.Text);
                    break;
                case ToolCallStarted s:
                    Assert.Equal(calls.Count, s.Index);
                    Assert.Equal("function", s.Type);
                    calls.Add((s.Id, s.Name, new StringBuilder()));
                    break;
                case ToolCallArgumentsDelta a:
                    // Arguments only go to the call being streamed, after its start.
                    Assert.Equal(calls.Count - 1, a.Index);
                    Assert.NotEmpty(a.Fragment);
                    calls[a.Index].Arguments.Append(a.Fragment);
                    break;
            }
        }
        return new Streamed(content.ToString(), calls.Select(c => (c.Id, c.Name, c.Arguments.ToString())).ToList(), end, events);
    }

    private static IEnumerable<List<string>> Splits(string text)
    {
        yield return [text];
        // Every two-way cut; for the few very long texts (4300-digit integers) every cut near the ends and a stride between.
        int stride = Math.Max(1, text.Length / 400);
        for (int i = 1; i < text.Length; i += i < 200 || i > text.Length - 200 ? 1 : stride) yield return [text[..i], text[i..]];
        for (int seed = 0; seed < 40; seed++)
        {
            var random = new Random(seed);
            var pieces = new List<string>();
            int pos = 0;
            while (pos < text.Length)
            {
                int len = Math.Min(text.Length - pos, 1 + random.Next(seed % 2 == 0 ? 4 : 16));
                // Keep surrogate pairs whole: generated text never splits one.
                if (pos + len < text.Length && char.IsHighSurrogate(text[pos + len - 1])) len++;
                pieces.Add(text.Substring(pos, len));
                pos += len;
            }
            yield return pieces;
        }
    }

    private static void AssertMatchesParse(ToolCallCase c, Streamed s)
    {
        Assert.Equal(c.Content ?? "", s.Content);
        Assert.Equal(c.Calls, s.Calls.Select(x => (x.Name, x.Arguments)).ToList());
        Assert.Equal(Enumerable.Range(0, c.Calls.Count).Select(i => $"id{i}"), s.Calls.Select(x => x.Id));
        Assert.Equal(s.Calls.Select(x => x.Id), s.End.Final.Calls.Select(x => x.Id));
        Assert.Null(s.End.Divergence);
    }

    private static bool MatchesParse(ToolCallCase c, Streamed s) =>
        (c.Content ?? "") == s.Content && c.Calls.SequenceEqual(s.Calls.Select(x => (x.Name, x.Arguments)));

    [Theory]
    [MemberData(nameof(ToolCallCase.Names), MemberType = typeof(ToolCallCase))]
    public void EveryCutStreamsWhatTheParserFinds(string name)
    {
        var c = ToolCallCase.Get(name);
        int firstTag = c.Text.IndexOf("<tool_call>", StringComparison.Ordinal);
        foreach (var pieces in Splits(c.Text))
        {
            var s = Run(pieces, deferCalls: false);
            Assert.Equal(c.Content, s.End.Final.Content);
            if ((c.ToolsCalled && !c.RepeatsAKey) || firstTag < 0 || s.Calls.Count == 0) AssertMatchesParse(c, s);
            else if (!MatchesParse(c, s))
            {
                // A malformed block found after a call went out, or a repeated key replacing arguments already
                // sent, cannot be undone; it must be reported.
                Assert.NotNull(s.End.Divergence);
                Assert.Equal(c.Text[..firstTag], s.Content);
            }
            if (c.ToolsCalled || s.Calls.Count > 0)
            {
                // No content delta holds markup, nor a prefix of it that later became markup.
                Assert.DoesNotContain(s.Events.OfType<ContentDelta>(), d => d.Text.Contains("<tool_call"));
                Assert.True(s.Content.Length <= firstTag);
            }
        }
    }

    [Theory]
    [MemberData(nameof(ToolCallCase.Names), MemberType = typeof(ToolCallCase))]
    public void DeferredCallsAlwaysEqualTheParse(string name)
    {
        var c = ToolCallCase.Get(name);
        foreach (var pieces in Splits(c.Text).Take(60)) AssertMatchesParse(c, Run(pieces, deferCalls: true));
    }

    [Fact]
    public void ContentStreamsBeforeTheCallAndHoldsOnlyAPossibleTag()
    {
        var splitter = new ToolCallStreamSplitter(() => "id");
        Assert.Equal([new ContentDelta("Let me ")], splitter.Push("Let me "));
        Assert.Equal([new ContentDelta("check ")], splitter.Push("check <tool"));
        Assert.Empty(splitter.Push("_call>\n{\"name\": \"get_weather\", "));
        Assert.Equal([new ToolCallStarted(0, "id", "get_weather"), new ToolCallArgumentsDelta(0, "{")], splitter.Push("\"arguments\": {"));
        Assert.Equal([new ToolCallArgumentsDelta(0, "\"city\": \"Pa")], splitter.Push("\"city\":\"Pa"));
        // A number is sent once it is complete, as Python prints it.
        Assert.Equal([new ToolCallArgumentsDelta(0, "ris\", \"days\": ")], splitter.Push("ris\", \"days\": 2.50"));
        Assert.Equal([new ToolCallArgumentsDelta(0, "2.5}")], splitter.Push("}}\n</tool_call>"));
        var end = splitter.Finish();
        Assert.Empty(end.Events);
        Assert.Null(end.Divergence);
        Assert.Equal("Let me check ", end.Final.Content);
    }

    [Fact]
    public void APrefixOfTheTagThatStaysTextIsReleasedAtTheEnd()
    {
        var splitter = new ToolCallStreamSplitter();
        Assert.Equal([new ContentDelta("a ")], splitter.Push("a <tool_"));
        Assert.Equal([new ContentDelta("<tool_ b ")], splitter.Push(" b <tool"));
        var end = splitter.Finish();
        Assert.Equal([new ContentDelta("<tool")], end.Events);
    }

    [Fact]
    public void AnArgumentFragmentNeverEndsInsideASurrogatePair()
    {
        var splitter = new ToolCallStreamSplitter(() => "id");
        splitter.Push("<tool_call>{\"name\": \"f\", \"arguments\": {\"s\": \"");
        var first = splitter.Push("\\ud83d");
        Assert.DoesNotContain(first.OfType<ToolCallArgumentsDelta>(), a => char.IsHighSurrogate(a.Fragment[^1]));
        var second = splitter.Push("\\ude00\"}}</tool_call>");
        Assert.Equal("😀\"}", Assert.IsType<ToolCallArgumentsDelta>(Assert.Single(second)).Fragment);
        Assert.Null(splitter.Finish().Divergence);
    }

    /// <summary>Random texts built from whole calls, markup pieces and JSON fragments: the stream says it
    /// differs from the parse exactly when it does, and equals it whenever no call went out.</summary>
    [Fact]
    public void RandomMarkupNeverDivergesSilently()
    {
        string[] parts = ["<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": [1, \"x\"]}}\n</tool_call>", "<tool_call>{\"name\": \"g\", \"arguments\": {",
            "\"k\": 2}}", "<tool_call>", "</tool_call>", "<tool", "_call>", "</tool_", "{", "}", "[", "]", "\"name\": ", "\"arguments\": ",
            "\"f\"", ", ", ":", "\"", "\\", "\\u00e9", "1", "-2.50e1", "true", "null", "NaN", "\n", " ", "text", "é", "😀"];
        int withCalls = 0, diverged = 0;
        for (int seed = 0; seed < 400; seed++)
        {
            var random = new Random(seed);
            string text = string.Concat(Enumerable.Range(0, random.Next(1, 12)).Select(_ => parts[random.Next(parts.Length)]));
            var parse = ToolCallParser.Parse(text);
            var pieces = Splits(text).ElementAt(random.Next(1, Math.Max(2, text.Length)));
            var s = Run(pieces, deferCalls: false);
            var c = new ToolCallCase("random", text, parse.Calls.Count > 0, parse.Content, parse.Calls.Select(x => (x.Name, x.Arguments)).ToList(), false);
            if (s.Calls.Count == 0) AssertMatchesParse(c, s);
            Assert.Equal(!MatchesParse(c, s), s.End.Divergence != null);
            AssertMatchesParse(c, Run(pieces, deferCalls: true));
            withCalls += parse.Calls.Count > 0 ? 1 : 0;
            diverged += s.End.Divergence != null ? 1 : 0;
        }
        Assert.True(withCalls >= 20 && diverged >= 20, $"{withCalls} texts with calls, {diverged} divergent streams");
    }

    [Fact]
    public void PushAfterFinishIsRefused()
    {
        var splitter = new ToolCallStreamSplitter();
        splitter.Finish();
        Assert.Throws<InvalidOperationException>(() => splitter.Push("x"));
    }
}
