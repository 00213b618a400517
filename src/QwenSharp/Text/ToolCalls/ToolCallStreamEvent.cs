namespace QwenSharp.Text.ToolCalls;

/// <summary>One piece of a streamed assistant message, in the order OpenAI's streaming chunks carry them.</summary>
public abstract record ToolCallStreamEvent;

/// <summary>Text for <c>delta.content</c>.</summary>
public sealed record ContentDelta(string Text) : ToolCallStreamEvent;

/// <summary>A call begins: <c>delta.tool_calls[{index, id, type: "function", function: {name}}]</c>.</summary>
public sealed record ToolCallStarted(int Index, string Id, string Name) : ToolCallStreamEvent
{
    public string Type => "function";
}

/// <summary>More of a call's arguments: <c>delta.tool_calls[{index, function: {arguments}}]</c>. The fragments
/// of one call concatenate to its final <see cref="ToolCall.Arguments"/>.</summary>
public sealed record ToolCallArgumentsDelta(int Index, string Fragment) : ToolCallStreamEvent;

/// <summary>What <see cref="ToolCallStreamSplitter.Finish"/> returns.</summary>
/// <param name="Events">the last events: held-back content, the rest of an open call's arguments</param>
/// <param name="Final"><see cref="ToolCallParser.Parse"/> of the whole text, with the ids the stream gave</param>
/// <param name="Divergence">null when the stream's content and calls equal <paramref name="Final"/>; otherwise
/// a sentence saying how they differ (a malformed block after a call was already streamed, a repeated key
/// that replaced streamed text)</param>
public sealed record ToolCallStreamEnd(IReadOnlyList<ToolCallStreamEvent> Events, ToolCallParse Final, string? Divergence);
