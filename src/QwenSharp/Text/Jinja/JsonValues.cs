using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// Turns System.Text.Json nodes into the Python values a template sees, as <c>json.loads</c> would produce
/// them: objects keep their key order, a number without '.', 'e' or 'E' is an int and any other a float
/// (so 22 prints as 22 and 2.50 as 2.5), null is None.
/// </summary>
internal static class JsonValues
{
    /// <summary>Python refuses to convert integer strings longer than this (sys.int_info.str_digits_check_threshold,
    /// CVE-2020-10735): the conversion is quadratic.</summary>
    public const int MaxIntegerDigits = 4300;

    /// <exception cref="TemplateException">(<see cref="TemplateErrorKind.Input"/>) a value nested deeper than
    /// MaxDepth, an integer of more than 4300 digits, or a node that is not JSON</exception>
    public static object? FromNode(JsonNode? node) => FromNode(node, TemplateLimits.Default.MaxDepth);

    /// <inheritdoc cref="FromNode(JsonNode?)"/>
    public static object? FromNode(JsonNode? node, int maxDepth) => ToValue(node, maxDepth, 0);

    private static object? ToValue(JsonNode? node, int maxDepth, int depth)
    {
        if (depth > maxDepth) throw TemplateException.Input($"a value nested deeper than {maxDepth} levels (TemplateLimits.MaxDepth)");
        switch (node)
        {
            case null: return null;
            case JsonObject obj:
            {
                var dict = new PyDict();
                foreach (var (key, value) in obj) dict[key] = ToValue(value, maxDepth, depth + 1);
                return dict;
            }
            case JsonArray arr:
            {
                var list = new List<object?>(arr.Count);
                foreach (var item in arr) list.Add(ToValue(item, maxDepth, depth + 1));
                return list;
            }
            case JsonValue v:
                switch (v.GetValueKind())
                {
                    case JsonValueKind.String:
                        // A value built from a CLR object (Guid, DateTime…) reads back through its JSON text.
                        return v.TryGetValue<string>(out var s) ? s : JsonSerializer.Deserialize<string>(v.ToJsonString());
                    case JsonValueKind.True: return true;
                    case JsonValueKind.False: return false;
                    case JsonValueKind.Null: return null;
                    case JsonValueKind.Number: return Number(v.ToJsonString());
                    case JsonValueKind.Object or JsonValueKind.Array: return ToValue(JsonNode.Parse(v.ToJsonString()), maxDepth, depth);
                }
                break;
        }
        throw TemplateException.Input($"a JSON value of kind {(node as JsonValue)?.GetValueKind().ToString() ?? node.GetType().Name}, which a template cannot take");
    }

    private static object Number(string text)
    {
        if (text.AsSpan().IndexOfAny('.', 'e', 'E') < 0)
        {
            if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
            if (text.Length > MaxIntegerDigits + 1)
                throw TemplateException.Input($"an integer of {text.Length} digits, more than the {MaxIntegerDigits} Python converts");
            return BigInteger.Parse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        }
        return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
    }
}
