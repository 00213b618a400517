using System.Text.Json;
using System.Text.Json.Nodes;

namespace QwenSharp.Text.ToolCalls;

/// <summary>What a request's <c>tool_choice</c> allows.</summary>
public enum ToolChoiceMode
{
    /// <summary>The model may answer with text or call any tools ("auto").</summary>
    Auto,
    /// <summary>The model must not call tools ("none").</summary>
    None,
    /// <summary>The model must call at least one tool ("required").</summary>
    Required,
    /// <summary>The model must call <see cref="ToolChoice.FunctionName"/> (<c>{"type": "function", "function": {"name": …}}</c>).</summary>
    Function,
}

/// <summary>A request's <c>tool_choice</c>, checked against its tools.</summary>
public sealed record ToolChoice(ToolChoiceMode Mode, string? FunctionName = null)
{
    /// <summary>
    /// Reads <c>tool_choice</c>. Absent (or JSON null) means "auto" when there are tools and "none" otherwise,
    /// as in OpenAI's API. "required" and a named function need tools, and the name must be one of them.
    /// </summary>
    /// <exception cref="ToolRequestException">any other string or shape, a name not among the tools, or
    /// "required" / a named function without tools</exception>
    public static ToolChoice Parse(JsonNode? node, IReadOnlyList<ToolDefinition> tools)
    {
        ArgumentNullException.ThrowIfNull(tools);
        if (node == null) return new ToolChoice(tools.Count > 0 ? ToolChoiceMode.Auto : ToolChoiceMode.None);
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            string text = v.GetValue<string>();
            var mode = text switch
            {
                "auto" => ToolChoiceMode.Auto,
                "none" => ToolChoiceMode.None,
                "required" => ToolChoiceMode.Required,
                _ => throw new ToolRequestException(
                    $"tool_choice '{text}' is not one of \"auto\", \"none\", \"required\" or {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}.", "tool_choice"),
            };
            if (mode == ToolChoiceMode.Required && tools.Count == 0)
                throw new ToolRequestException("tool_choice \"required\" needs at least one tool in tools, and the request has none.", "tool_choice");
            return new ToolChoice(mode);
        }
        if (node is not JsonObject obj || obj["type"] is not JsonValue type || type.GetValueKind() != JsonValueKind.String
            || type.GetValue<string>() != "function" || obj["function"] is not JsonObject function
            || function["name"] is not JsonValue nameNode || nameNode.GetValueKind() != JsonValueKind.String)
        {
            throw new ToolRequestException(
                $"tool_choice must be \"auto\", \"none\", \"required\" or {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}, not {ToolDefinition.Describe(node)}.", "tool_choice");
        }
        string name = nameNode.GetValue<string>();
        if (!tools.Any(t => t.Name == name))
        {
            string known = tools.Count == 0 ? "the request has no tools" : "the tools are " + string.Join(", ", tools.Select(t => $"'{t.Name}'"));
            throw new ToolRequestException($"tool_choice names the function '{name}', which is not among the request's tools ({known}).", "tool_choice.function.name");
        }
        return new ToolChoice(ToolChoiceMode.Function, name);
    }
}
