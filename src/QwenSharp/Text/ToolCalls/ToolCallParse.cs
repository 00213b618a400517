namespace QwenSharp.Text.ToolCalls;

/// <summary>
/// A complete assistant message split into its text and its tool calls.
/// </summary>
/// <param name="Content">the text for the message's <c>content</c>: when calls were found, the text before the
/// first <c>&lt;tool_call&gt;</c> exactly as written (null when there is none); otherwise the whole text</param>
/// <param name="Calls">the calls, in order; empty when the text has no <c>&lt;tool_call&gt;</c> or any block is malformed</param>
/// <param name="Error">why tool-call markup was left as text (a malformed block), or null</param>
public sealed record ToolCallParse(string? Content, IReadOnlyList<ToolCall> Calls, string? Error = null);
