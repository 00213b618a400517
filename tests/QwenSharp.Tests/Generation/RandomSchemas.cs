using System.Text.Json.Nodes;

namespace QwenSharp.Tests.Generation;

/// <summary>
/// Seeded random JSON schemas of the kinds constrained decoding must handle: nested objects with optional
/// properties, bounded arrays, enums and const, anyOf, recursive $ref through $defs, string patterns, lengths and
/// formats, integer ranges, type arrays. Bounds keep random logits' documents short enough to finish.
/// </summary>
internal static class RandomSchemas
{
    public static JsonObject Make(int seed)
    {
        var random = new Random(seed);
        var defs = new JsonObject();
        var root = Object(random, depth: 0, defs);
        // Every fourth schema carries a recursive definition (a list of nodes that may hold a node).
        if (seed % 4 == 0)
        {
            defs["node"] = new JsonObject
            {
                ["type"] = "object",
                ["properties"] = new JsonObject
                {
                    ["v"] = new JsonObject { ["type"] = "integer", ["minimum"] = 0, ["maximum"] = 9 },
                    ["next"] = new JsonObject { ["anyOf"] = new JsonArray(new JsonObject { ["$ref"] = "#/$defs/node" }, new JsonObject { ["type"] = "null" }) },
                },
                ["required"] = new JsonArray("v", "next"),
                ["additionalProperties"] = false,
            };
            ((JsonObject)root["properties"]!)["list"] = new JsonObject { ["$ref"] = "#/$defs/node" };
        }
        if (defs.Count > 0) root["$defs"] = defs;
        return root;
    }

    private static JsonObject Object(Random random, int depth, JsonObject defs)
    {
        var properties = new JsonObject();
        var required = new JsonArray();
        int count = random.Next(1, 4);
        for (int i = 0; i < count; i++)
        {
            string name = "p" + i + (char)('a' + random.Next(26));
            properties[name] = Value(random, depth + 1, defs);
            if (random.Next(3) > 0) required.Add(name);
        }
        var o = new JsonObject { ["type"] = "object", ["properties"] = properties, ["additionalProperties"] = false };
        if (required.Count > 0) o["required"] = required;
        return o;
    }

    private static JsonNode Value(Random random, int depth, JsonObject defs)
    {
        int kind = random.Next(depth >= 3 ? 10 : 13);
        switch (kind)
        {
            case 0: return new JsonObject { ["type"] = "string", ["maxLength"] = random.Next(1, 12) };
            case 1: return new JsonObject { ["type"] = "string", ["minLength"] = 2, ["maxLength"] = 6 };
            case 2: return new JsonObject { ["type"] = "string", ["pattern"] = random.Next(2) == 0 ? "^[a-z]{2,5}-\\d{1,3}$" : "^(yes|no|maybe)$" };
            case 3: return new JsonObject { ["type"] = "string", ["format"] = new[] { "date", "uuid", "date-time" }[random.Next(3)] };
            case 4:
                int min = random.Next(-50, 50);
                return new JsonObject { ["type"] = "integer", ["minimum"] = min, ["maximum"] = min + random.Next(0, 1000) };
            case 5: return new JsonObject { ["type"] = random.Next(2) == 0 ? "number" : "boolean" };
            case 6: return new JsonObject { ["enum"] = new JsonArray("red", 3, null, true, "ünïcödé ✓") };
            case 7: return new JsonObject { ["const"] = random.Next(2) == 0 ? "fixed" : (JsonNode)new JsonObject { ["k"] = 1 } };
            case 8: return new JsonObject { ["anyOf"] = new JsonArray(new JsonObject { ["type"] = "integer" }, new JsonObject { ["type"] = "string", ["maxLength"] = 5 }) };
            case 9: return new JsonObject { ["type"] = new JsonArray("integer", "null") };
            case 10:
                return new JsonObject
                {
                    ["type"] = "array", ["items"] = Value(random, depth + 1, defs),
                    ["minItems"] = random.Next(0, 2), ["maxItems"] = random.Next(2, 4),
                };
            case 11:
                string name = "d" + defs.Count;
                defs[name] = Object(random, depth + 1, defs);
                return new JsonObject { ["$ref"] = "#/$defs/" + name };
            default: return Object(random, depth, defs);
        }
    }
}
