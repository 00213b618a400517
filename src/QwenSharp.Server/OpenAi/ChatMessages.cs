using System.Text.Json;
using System.Text.Json.Nodes;

namespace QwenSharp.Server.OpenAi;

/// <summary>
/// OpenAI chat messages → the JSON array the chat template sees. Content parts are joined as vLLM's "string"
/// content format does (text parts separated by newlines); non-text parts (images, audio, files) are refused
/// since QwenSharp serves text models. Tool-call arguments sent as JSON strings become objects, as vLLM passes
/// them to Hugging Face templates.
/// </summary>
public static class ChatMessages
{
    /// <summary>Messages per request: a long conversation has hundreds; the bound keeps one request's template work small.</summary>
    public const int MaxMessages = 4096;

    private static readonly HashSet<string> Roles = new(StringComparer.Ordinal) { "system", "developer", "user", "assistant", "tool" };

    public static string Normalize(JsonElement? messages)
    {
        if (messages is not { } list) throw ApiException.BadRequest("'messages' is required.", "messages");
        if (list.ValueKind != JsonValueKind.Array)
            throw ApiException.BadRequest($"'messages' must be an array of messages, got {RequestFields.DescribeValue(list)}.", "messages");
        if (list.GetArrayLength() == 0) throw ApiException.BadRequest("'messages' must contain at least one message.", "messages");
        if (list.GetArrayLength() > MaxMessages)
            throw ApiException.BadRequest($"'messages' has {list.GetArrayLength()} messages; at most {MaxMessages} are allowed.", "messages");

        var output = new JsonArray();
        int index = 0;
        foreach (var m in list.EnumerateArray())
        {
            string where = $"messages[{index}]";
            if (m.ValueKind != JsonValueKind.Object)
                throw ApiException.BadRequest($"'{where}' must be an object, got {RequestFields.DescribeValue(m)}.", where);
            var msg = new JsonObject();
            string? role = null;
            foreach (var p in m.EnumerateObject())
            {
                // Clients send absent optional fields as null (OpenAI's SDKs, OllamaSharp's images/tool_calls).
                if (p.Value.ValueKind == JsonValueKind.Null && p.Name != "content") continue;
                switch (p.Name)
                {
                    case "role":
                        if (p.Value.ValueKind != JsonValueKind.String || !Roles.Contains(p.Value.GetString()!))
                            throw ApiException.BadRequest($"'{where}.role' must be one of {string.Join(", ", Roles)}, got {RequestFields.DescribeValue(p.Value)}.", where + ".role");
                        role = p.Value.GetString()!;
                        // OpenAI's "developer" messages are system instructions; Qwen2 templates know only "system".
                        msg["role"] = role == "developer" ? "system" : role;
                        break;
                    case "content":
                        msg["content"] = Content(p.Value, where + ".content");
                        break;
                    case "tool_calls":
                        msg["tool_calls"] = ToolCalls(p.Value, where + ".tool_calls");
                        break;
                    case "name" or "tool_call_id" or "reasoning_content":
                        if (p.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                            throw ApiException.BadRequest($"'{where}.{p.Name}' must be a string, got {RequestFields.DescribeValue(p.Value)}.", $"{where}.{p.Name}");
                        msg[p.Name] = JsonNode.Parse(p.Value.GetRawText());
                        break;
                    default:
                        throw ApiException.BadRequest($"Unsupported message field '{where}.{p.Name}': QwenSharp does not implement it.", $"{where}.{p.Name}");
                }
            }
            if (role == null) throw ApiException.BadRequest($"'{where}.role' is required.", where + ".role");
            if (!msg.ContainsKey("content") || msg["content"] is null)
            {
                if (role != "assistant" || !msg.ContainsKey("tool_calls"))
                    msg["content"] = "";
            }
            output.Add(msg);
            index++;
        }
        return output.ToJsonString();
    }

    private static JsonNode? Content(JsonElement v, string where)
    {
        switch (v.ValueKind)
        {
            case JsonValueKind.Null: return null;
            case JsonValueKind.String: return v.GetString();
            case JsonValueKind.Array:
                var texts = new List<string>();
                int i = 0;
                foreach (var part in v.EnumerateArray())
                {
                    string pw = $"{where}[{i++}]";
                    if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                        throw ApiException.BadRequest($"'{pw}' must be a content part object with a 'type'.", pw);
                    string t = type.GetString()!;
                    if (t != "text")
                        throw ApiException.BadRequest($"Content part type '{t}' in '{pw}' is not supported: QwenSharp serves text-only models.", pw);
                    if (!part.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                        throw ApiException.BadRequest($"'{pw}.text' must be a string.", pw + ".text");
                    texts.Add(text.GetString()!);
                }
                return string.Join("\n", texts);
            default:
                throw ApiException.BadRequest($"'{where}' must be a string or an array of content parts, got {RequestFields.DescribeValue(v)}.", where);
        }
    }

    private static JsonNode ToolCalls(JsonElement v, string where)
    {
        if (v.ValueKind != JsonValueKind.Array)
            throw ApiException.BadRequest($"'{where}' must be an array, got {RequestFields.DescribeValue(v)}.", where);
        var calls = JsonNode.Parse(v.GetRawText())!.AsArray();
        foreach (var call in calls)
        {
            if (call is JsonObject c && c["function"] is JsonObject f && f["arguments"] is JsonValue a && a.TryGetValue(out string? s))
            {
                try { f["arguments"] = JsonNode.Parse(s); }
                catch (JsonException) { /* not JSON: the template gets the string as sent. */ }
            }
        }
        return calls;
    }
}
