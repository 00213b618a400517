namespace QwenSharp.Text.ToolCalls;

/// <summary>
/// Splits a complete assistant message in Qwen's tool-call format (the Qwen2.5 chat template's: optional text,
/// then one or more <c>&lt;tool_call&gt;\n{"name": "fn", "arguments": {...}}\n&lt;/tool_call&gt;</c> blocks)
/// into content and calls, with the rules of vLLM's <c>hermes</c> tool parser (extract_tool_calls):
/// <list type="bullet">
/// <item>blocks are what the regex <c>&lt;tool_call&gt;(.*?)&lt;/tool_call&gt;|&lt;tool_call&gt;(.*)</c> finds: the
/// text up to the nearest closing tag, or, for a last block left open, up to the end;</item>
/// <item>each block's text must be one JSON object as Python's json.loads reads it (surrounding whitespace
/// allowed) with a string "name" and an "arguments" key; arguments are re-serialised by json.dumps;</item>
/// <item>if any block fails, there are no calls and the whole text is content;</item>
/// <item>otherwise content is the text before the first <c>&lt;tool_call&gt;</c>, not trimmed (vLLM slices
/// it as is), null when empty; text between and after blocks is dropped.</item>
/// </list>
/// </summary>
public static class ToolCallParser
{
    public const string StartTag = "<tool_call>";
    public const string EndTag = "</tool_call>";

    /// <param name="newId">makes each call's id; <see cref="ToolCall.NewId"/> when null</param>
    public static ToolCallParse Parse(string text, Func<string>? newId = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        int first = text.IndexOf(StartTag, StringComparison.Ordinal);
        if (first < 0) return new ToolCallParse(text, []);
        newId ??= ToolCall.NewId;
        var calls = new List<(string Name, string Arguments)>();
        int pos = first;
        int block = 0;
        while (pos >= 0)
        {
            int bodyStart = pos + StartTag.Length;
            int end = text.IndexOf(EndTag, bodyStart, StringComparison.Ordinal);
            string body = end < 0 ? text[bodyStart..] : text[bodyStart..end];
            block++;
            if (!TryReadCall(body, out string name, out string arguments, out string? error))
                return new ToolCallParse(text, [], $"tool call block {block} is left as text: {error}.");
            calls.Add((name, arguments));
            pos = end < 0 ? -1 : text.IndexOf(StartTag, end + EndTag.Length, StringComparison.Ordinal);
        }
        string content = text[..first];
        return new ToolCallParse(content.Length == 0 ? null : content, calls.Select(c => new ToolCall(newId(), c.Name, c.Arguments)).ToList());
    }

    /// <summary>Reads one block's text as vLLM does: json.loads, then ["name"] (a string, as its FunctionCall
    /// model requires) and json.dumps(["arguments"], ensure_ascii=False).</summary>
    internal static bool TryReadCall(string body, out string name, out string arguments, out string? error)
    {
        name = arguments = "";
        var reader = new PythonJsonReader();
        reader.Feed(body);
        reader.End();
        error = reader.Error ?? CheckCall(reader.Root);
        if (error != null) return false;
        var call = (OrderedDictionary<string, object?>)reader.Root!;
        name = (string)call["name"]!;
        arguments = PythonJsonWriter.Dumps(call["arguments"]);
        return true;
    }

    /// <summary>Why a block's JSON value is not a call (not an object, no string "name", no "arguments"), or null.</summary>
    internal static string? CheckCall(object? root)
    {
        if (root is not OrderedDictionary<string, object?> call) return "its JSON is not an object";
        if (!call.TryGetValue("name", out var name)) return "its JSON has no \"name\"";
        if (name is not string) return "its \"name\" is not a string";
        if (!call.ContainsKey("arguments")) return "its JSON has no \"arguments\"";
        return null;
    }
}
