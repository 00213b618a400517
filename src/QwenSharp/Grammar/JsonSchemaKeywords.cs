using System.Text.Json.Nodes;

namespace QwenSharp.Grammar;

/// <summary>
/// Which JSON Schema keywords constrained decoding understands, which it may ignore because they never change
/// which documents are valid, and the refusal of every other one (by name and JSON pointer).
/// </summary>
internal static class JsonSchemaKeywords
{
    /// <summary>Annotations and containers: they do not constrain the instance.</summary>
    public static readonly HashSet<string> Ignored = new(StringComparer.Ordinal)
    {
        "title", "description", "$schema", "$id", "default", "examples", "$comment", "strict", "deprecated",
        "readOnly", "writeOnly", "$defs", "definitions",
    };

    public static readonly HashSet<string> Supported = new(StringComparer.Ordinal)
    {
        "type", "properties", "required", "additionalProperties", "items", "prefixItems", "minItems", "maxItems",
        "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "pattern", "minLength", "maxLength", "format",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "nullable",
    };

    /// <summary>The keywords of <paramref name="schema"/> whose value is not JSON null (OllamaSharp sends nulls for unset ones),
    /// refusing any keyword outside the supported and ignored sets.</summary>
    public static Dictionary<string, JsonNode> Present(JsonObject schema, string pointer)
    {
        var present = new Dictionary<string, JsonNode>(StringComparer.Ordinal);
        foreach (var (key, value) in schema)
        {
            if (value is null) continue;
            if (Ignored.Contains(key)) continue;
            if (!Supported.Contains(key))
                throw new UnsupportedSchemaException(key,
                    $"The JSON Schema keyword '{key}' at '{Show(Pointer(pointer, key))}' is not supported by constrained decoding.");
            present[key] = value;
        }
        return present;
    }

    /// <summary>A JSON pointer one level down (RFC 6901 escapes).</summary>
    public static string Pointer(string parent, string key) => parent + "/" + key.Replace("~", "~0").Replace("/", "~1");

    /// <summary>The pointer as written in messages ("#" for the document itself).</summary>
    public static string Show(string pointer) => pointer.Length == 0 ? "#" : "#" + pointer;
}
