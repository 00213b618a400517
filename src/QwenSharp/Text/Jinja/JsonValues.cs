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
    public static object? FromNode(JsonNode? node)
    {
        switch (node)
        {
            case null: return null;
            case JsonObject obj:
            {
                var dict = new PyDict();
                foreach (var (key, value) in obj) dict[key] = FromNode(value);
                return dict;
            }
            case JsonArray arr:
                return arr.Select(FromNode).ToList();
            case JsonValue v:
                switch (v.GetValueKind())
                {
                    case JsonValueKind.String: return v.GetValue<string>();
                    case JsonValueKind.True: return true;
                    case JsonValueKind.False: return false;
                    case JsonValueKind.Null: return null;
                    case JsonValueKind.Number: return Number(v.ToJsonString());
                }
                break;
        }
        throw new ArgumentException($"Unsupported JSON node {node.ToJsonString()}.");
    }

    private static object Number(string text)
    {
        if (text.AsSpan().IndexOfAny('.', 'e', 'E') < 0)
        {
            if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
            return BigInteger.Parse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        }
        return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
    }
}
