using System.Text.Json;
using System.Text.Json.Nodes;

namespace QwenSharp.Text.ToolCalls;

/// <summary>
/// Readies a request's conversation for a chat template the way vLLM does (chat_utils._postprocess_messages):
/// OpenAI clients send an assistant call's <c>function.arguments</c> as a JSON string, but Qwen's templates
/// print it with <c>tojson</c>, which would quote the string; so each string is parsed into its value (an
/// empty or missing one becomes <c>{}</c>), and an empty <c>tool_calls</c> list is dropped.
/// </summary>
public static class ToolCallHistory
{
    /// <summary>A copy of <paramref name="messages"/> with assistant tool-call arguments as JSON values.</summary>
    /// <exception cref="ToolRequestException">an arguments string that is not JSON, naming where it is</exception>
    public static JsonArray ForTemplate(JsonArray messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var copy = (JsonArray)messages.DeepClone();
        for (int m = 0; m < copy.Count; m++)
        {
            if (copy[m] is not JsonObject message || (string?)(message["role"] as JsonValue) is not "assistant"
                || message["tool_calls"] is not JsonArray calls) continue;
            if (calls.Count == 0)
            {
                message.Remove("tool_calls");
                continue;
            }
            for (int c = 0; c < calls.Count; c++)
            {
                if (calls[c] is not JsonObject call || call["function"] is not JsonObject function) continue;
                var arguments = function["arguments"];
                if (arguments is JsonObject or JsonArray) continue;
                string? text = arguments is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
                if (arguments != null && text == null) continue;
                function["arguments"] = string.IsNullOrEmpty(text) ? new JsonObject() : Parse(text, $"messages[{m}].tool_calls[{c}].function.arguments");
            }
        }
        return copy;
    }

    private static JsonNode? Parse(string text, string path)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException e)
        {
            string excerpt = text.Length > 60 ? text[..57] + "..." : text;
            throw new ToolRequestException($"{path} must be a JSON text, and '{excerpt}' is not ({e.Message.Split('.')[0]}).", path);
        }
    }
}
