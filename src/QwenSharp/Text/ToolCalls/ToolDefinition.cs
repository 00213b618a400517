using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace QwenSharp.Text.ToolCalls;

/// <summary>
/// One entry of an OpenAI chat request's <c>tools</c>: <c>{"type": "function", "function": {"name",
/// "description", "parameters"}}</c>. <see cref="Source"/> is the entry as the client sent it, which is what a
/// chat template is given (Hugging Face passes tool dictionaries through unchanged).
/// </summary>
public sealed partial record ToolDefinition(string Name, string? Description, JsonObject? Parameters, JsonObject Source)
{
    /// <summary>OpenAI's rule for function names.</summary>
    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex NamePattern();

    /// <summary>Reads and checks a request's <c>tools</c> (null or JSON null: none).</summary>
    /// <exception cref="ToolRequestException">not an array; an entry that is not an object, whose type is not
    /// "function", without a "function" object; a name missing, not a string or not matching
    /// ^[a-zA-Z0-9_-]{1,64}$; a description that is not a string; parameters that are not an object; a name
    /// used twice</exception>
    public static IReadOnlyList<ToolDefinition> ParseAll(JsonNode? tools)
    {
        if (tools == null) return [];
        if (tools is not JsonArray array)
            throw new ToolRequestException($"tools must be an array of tool definitions, not {Describe(tools)}.", "tools");
        var result = new List<ToolDefinition>(array.Count);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < array.Count; i++)
        {
            var tool = Parse(array[i], $"tools[{i}]");
            if (seen.TryGetValue(tool.Name, out int first))
                throw new ToolRequestException($"tools[{i}].function.name '{tool.Name}' is already the name of tools[{first}]; tool names must be unique.", $"tools[{i}].function.name");
            seen[tool.Name] = i;
            result.Add(tool);
        }
        return result;
    }

    /// <summary>The tools as the chat template receives them.</summary>
    public static JsonArray ToTemplateInput(IEnumerable<ToolDefinition> tools) => new(tools.Select(t => (JsonNode)t.Source.DeepClone()).ToArray());

    private static ToolDefinition Parse(JsonNode? node, string path)
    {
        if (node is not JsonObject entry)
            throw new ToolRequestException($"{path} must be an object {{\"type\": \"function\", \"function\": {{...}}}}, not {Describe(node)}.", path);
        if (!IsString(entry["type"], out string? type) || type != "function")
            throw new ToolRequestException($"{path}.type must be \"function\", not {Describe(entry["type"])}.", $"{path}.type");
        if (entry["function"] is not JsonObject function)
            throw new ToolRequestException($"{path}.function must be an object with the function's name, description and parameters, not {Describe(entry["function"])}.", $"{path}.function");
        if (!function.ContainsKey("name") || function["name"] == null)
            throw new ToolRequestException($"{path}.function.name is missing.", $"{path}.function.name");
        if (!IsString(function["name"], out string? name))
            throw new ToolRequestException($"{path}.function.name must be a string, not {Describe(function["name"])}.", $"{path}.function.name");
        if (!NamePattern().IsMatch(name!))
            throw new ToolRequestException($"{path}.function.name '{name}' must be 1 to 64 letters, digits, underscores or dashes (^[a-zA-Z0-9_-]{{1,64}}$).", $"{path}.function.name");
        string? description = null;
        if (function["description"] is { } d && !IsString(d, out description))
            throw new ToolRequestException($"{path}.function.description must be a string, not {Describe(d)}.", $"{path}.function.description");
        JsonObject? parameters = null;
        if (function["parameters"] is { } p)
        {
            parameters = p as JsonObject
                ?? throw new ToolRequestException($"{path}.function.parameters must be a JSON Schema object, not {Describe(p)}.", $"{path}.function.parameters");
        }
        return new ToolDefinition(name!, description, parameters, entry);
    }

    private static bool IsString(JsonNode? node, out string? value)
    {
        value = node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
        return value != null;
    }

    /// <summary>A value named in an error: a short JSON excerpt with its kind.</summary>
    internal static string Describe(JsonNode? node)
    {
        if (node == null) return "null";
        string kind = node.GetValueKind() switch
        {
            JsonValueKind.String => "the string",
            JsonValueKind.Number => "the number",
            JsonValueKind.True or JsonValueKind.False => "the boolean",
            JsonValueKind.Array => "the array",
            JsonValueKind.Object => "the object",
            _ => "the value",
        };
        string json = node.ToJsonString();
        return $"{kind} {(json.Length > 60 ? json[..57] + "..." : json)}";
    }
}
