namespace QwenSharp.Text.ToolCalls;

/// <summary>
/// A finished reply of a request whose tools may be called, as the caller shows it. Under the calls' grammar every
/// call is whole unless max_tokens cut the reply inside one: then the calls completed before the cut are kept and
/// the unfinished one is dropped, and the content is the text before the first call, so the markup never reaches it.
/// </summary>
public static class ToolReply
{
    public static ToolCallParse Read(string text, Func<string>? newId = null)
    {
        var parse = ToolCallParser.Parse(text, newId);
        if (parse.Calls.Count > 0) return parse;
        int open = text.IndexOf(ToolCallParser.StartTag, StringComparison.Ordinal);
        if (open < 0) return parse;
        int lastClose = text.LastIndexOf(ToolCallParser.EndTag, StringComparison.Ordinal);
        if (lastClose > open)
        {
            var complete = ToolCallParser.Parse(text[..(lastClose + ToolCallParser.EndTag.Length)], newId);
            if (complete.Calls.Count > 0) return complete;
        }
        return new ToolCallParse(open == 0 ? null : text[..open], []);
    }
}
