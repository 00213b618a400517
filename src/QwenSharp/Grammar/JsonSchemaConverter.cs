using System.Text.Json;
using System.Text.Json.Nodes;

namespace QwenSharp.Grammar;

/// <summary>
/// Walks one JSON Schema and writes the GBNF rules of the documents it accepts: this file dispatches on the
/// combining keywords ($ref, const/enum, anyOf/oneOf, allOf, nullable, type); objects and arrays, and strings
/// and numbers, are in the partial files beside it.
/// </summary>
internal sealed partial class JsonSchemaConverter
{
    private readonly JsonNode _root;
    private readonly GbnfRuleSet _rules;
    private readonly JsonPrimitiveRules _json;
    private readonly Dictionary<string, string> _refRules = new(StringComparer.Ordinal);
    private int _depth;

    private const int MaxDepth = 256;

    private JsonSchemaConverter(JsonNode root, string rulePrefix)
    {
        _root = root;
        _rules = new GbnfRuleSet(rulePrefix, JsonPrimitiveRules.Names);
        _json = new JsonPrimitiveRules(_rules);
    }

    public static string Convert(JsonNode schema, string rootRule, string rulePrefix)
    {
        RefuseBuiltInName(rootRule, rulePrefix);
        var converter = new JsonSchemaConverter(schema, rulePrefix);
        converter._rules.ReserveExact(rootRule);
        converter._refRules["#"] = rootRule;
        converter._rules.Define(rootRule, converter.NotSelf(rootRule, converter.Body(schema, "", ""), "#"));
        return converter._rules.Write();
    }

    public static string AnyObject(string rootRule, string rulePrefix)
    {
        RefuseBuiltInName(rootRule, rulePrefix);
        var rules = new GbnfRuleSet(rulePrefix, JsonPrimitiveRules.Names);
        rules.ReserveExact(rootRule);
        rules.Define(rootRule, new JsonPrimitiveRules(rules).Object);
        return rules.Write();
    }

    private static void RefuseBuiltInName(string rootRule, string rulePrefix)
    {
        if (rootRule.StartsWith(rulePrefix, StringComparison.Ordinal) && JsonPrimitiveRules.Names.Contains(rootRule[rulePrefix.Length..]))
            throw new GrammarException($"The root rule '{rootRule}' is the name of a built-in JSON rule; choose another name or a rule prefix.");
    }

    /// <summary>A rule whose language is the schema's documents; the name of an existing rule when the body is one.</summary>
    private string Rule(JsonNode? schema, string pointer, string hint)
    {
        string body = Body(schema, pointer, hint);
        return GbnfText.IsRuleName(body) ? body : _rules.Add(hint, body);
    }

    private string Body(JsonNode? schema, string pointer, string hint)
    {
        if (++_depth > MaxDepth)
            throw new GrammarException($"The schema at '{JsonSchemaKeywords.Show(pointer)}' nests deeper than {MaxDepth} levels.");
        try
        {
            return BodyOf(schema, pointer, hint);
        }
        finally
        {
            _depth--;
        }
    }

    private string BodyOf(JsonNode? schema, string pointer, string hint)
    {
        string at = JsonSchemaKeywords.Show(pointer);
        if (schema is JsonValue v && v.GetValueKind() is JsonValueKind.True) return _json.Value;
        if (schema is JsonValue f && f.GetValueKind() is JsonValueKind.False)
            throw new GrammarException($"The schema at '{at}' is false: no document is valid against it.");
        if (schema is not JsonObject obj)
            throw new GrammarException($"The schema at '{at}' is {Describe(schema)}; a schema is an object or a boolean.");

        var k = JsonSchemaKeywords.Present(obj, pointer);

        if (k.TryGetValue("nullable", out var nullable))
        {
            if (nullable.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False))
                throw new GrammarException($"'nullable' at '{at}' must be a boolean.");
            k.Remove("nullable");
            if (nullable.GetValueKind() is JsonValueKind.True)
            {
                // Any value already holds null.
                if (k.Count == 0) return _json.Value;
                return Rule(Without(obj, "nullable"), pointer, Hint(hint, "value")) + " | " + _json.Null;
            }
        }

        if (k.TryGetValue("$ref", out var reference))
        {
            RefuseSiblings(k, "$ref", pointer);
            return RefRule(reference, pointer, hint);
        }

        if (k.ContainsKey("const") || k.ContainsKey("enum")) return EnumBody(k, pointer);

        foreach (var combinator in new[] { "anyOf", "oneOf" })
        {
            if (!k.TryGetValue(combinator, out var alternatives)) continue;
            RefuseSiblings(k, combinator, pointer);
            if (alternatives is not JsonArray list || list.Count == 0)
                throw new GrammarException($"'{combinator}' at '{at}' must be a non-empty array of schemas.");
            // oneOf is written as anyOf (as llama.cpp and xgrammar do): exclusivity cannot be checked by a grammar.
            var parts = list.Select((s, i) => Rule(s, JsonSchemaKeywords.Pointer(JsonSchemaKeywords.Pointer(pointer, combinator), i.ToString(System.Globalization.CultureInfo.InvariantCulture)), Hint(hint, i.ToString(System.Globalization.CultureInfo.InvariantCulture))));
            return string.Join(" | ", parts.Distinct());
        }

        if (k.TryGetValue("allOf", out var all))
        {
            RefuseSiblings(k, "allOf", pointer);
            if (all is not JsonArray list || list.Count != 1)
                throw new UnsupportedSchemaException("allOf",
                    $"'allOf' at '{at}' has {(all as JsonArray)?.Count ?? 0} schemas; only an allOf of exactly one schema is supported.");
            return Body(list[0], JsonSchemaKeywords.Pointer(JsonSchemaKeywords.Pointer(pointer, "allOf"), "0"), hint);
        }

        var types = Types(k, pointer);
        if (types.Count == 0) return _json.Value;
        var bodies = types.Select(t => TypeBody(t, k, pointer, types.Count == 1 ? hint : Hint(hint, t))).ToList();
        if (bodies.Count == 1) return bodies[0];
        return string.Join(" | ", bodies.Select(b => GbnfText.IsRuleName(b) ? b : "( " + b + " )"));
    }

    /// <summary>The JSON types the schema admits: "type" (one or an array), else inferred from the type-specific keywords.</summary>
    private static List<string> Types(Dictionary<string, JsonNode> k, string pointer)
    {
        string at = JsonSchemaKeywords.Show(pointer);
        var known = new[] { "object", "array", "string", "number", "integer", "boolean", "null" };
        if (k.TryGetValue("type", out var type))
        {
            var names = type switch
            {
                JsonValue s when s.GetValueKind() == JsonValueKind.String => [s.GetValue<string>()],
                JsonArray a when a.All(e => e is JsonValue ev && ev.GetValueKind() == JsonValueKind.String) && a.Count > 0 =>
                    a.Select(e => e!.GetValue<string>()).Distinct().ToList(),
                _ => throw new GrammarException($"'type' at '{at}' must be a type name or a non-empty array of type names."),
            };
            foreach (var name in names)
                if (!known.Contains(name))
                    throw new UnsupportedSchemaException("type", $"The type '{name}' at '{at}' is not a JSON Schema type.");
            return names;
        }
        var inferred = new List<string>();
        if (k.ContainsKey("properties") || k.ContainsKey("additionalProperties") || k.ContainsKey("required")) inferred.Add("object");
        if (k.ContainsKey("items") || k.ContainsKey("prefixItems") || k.ContainsKey("minItems") || k.ContainsKey("maxItems")) inferred.Add("array");
        if (k.ContainsKey("pattern") || k.ContainsKey("minLength") || k.ContainsKey("maxLength") || k.ContainsKey("format")) inferred.Add("string");
        if (k.ContainsKey("minimum") || k.ContainsKey("maximum") || k.ContainsKey("exclusiveMinimum") || k.ContainsKey("exclusiveMaximum"))
            inferred.Add("number");
        if (inferred.Count > 1)
            throw new UnsupportedSchemaException(string.Join(", ", inferred),
                $"The schema at '{at}' has no 'type' and keywords of several types ({string.Join(", ", inferred)}); give its 'type'.");
        return inferred;
    }

    private string TypeBody(string type, Dictionary<string, JsonNode> k, string pointer, string hint) => type switch
    {
        "null" => _json.Null,
        "boolean" => _json.Boolean,
        "integer" => IntegerBody(k, pointer),
        "number" => NumberBody(k, pointer),
        "string" => StringBody(k, pointer),
        "array" => ArrayBody(k, pointer, hint),
        "object" => ObjectBody(k, pointer, hint),
        _ => throw new InvalidOperationException(type),
    };

    /// <summary>$ref to a JSON pointer in this document ("#", "#/$defs/x", "#/definitions/x", ...); a remote one is refused.</summary>
    private string RefRule(JsonNode reference, string pointer, string hint)
    {
        string at = JsonSchemaKeywords.Show(pointer);
        if (reference is not JsonValue rv || rv.GetValueKind() != JsonValueKind.String)
            throw new GrammarException($"'$ref' at '{at}' must be a string.");
        string target = rv.GetValue<string>();
        if (_refRules.TryGetValue(target, out var known)) return known;
        if (!target.StartsWith('#'))
            throw new UnsupportedSchemaException("$ref", $"The '$ref' '{target}' at '{at}' is not a pointer into this schema (remote references are not supported).");
        string fragment = Uri.UnescapeDataString(target[1..]);
        if (fragment.Length > 0 && !fragment.StartsWith('/'))
            throw new UnsupportedSchemaException("$ref", $"The '$ref' '{target}' at '{at}' names an anchor; only JSON pointers are supported.");
        JsonNode? node = _root;
        foreach (var raw in fragment.Split('/').Skip(1))
        {
            string segment = raw.Replace("~1", "/").Replace("~0", "~");
            node = node switch
            {
                JsonObject o when o.TryGetPropertyValue(segment, out var child) => child,
                JsonArray a when int.TryParse(segment, out int index) && index >= 0 && index < a.Count => a[index],
                _ => throw new GrammarException($"The '$ref' '{target}' at '{at}' does not resolve in this schema."),
            };
        }
        string baseName = fragment.Split('/')[^1] is { Length: > 0 } last ? last : Hint(hint, "ref");
        string name = _rules.Reserve(baseName);
        _refRules[target] = name;
        _rules.Define(name, NotSelf(name, Body(node, fragment, baseName), target));
        return name;
    }

    /// <summary>A schema that is only a $ref to itself (directly or through other bare $refs) derives no text.</summary>
    private string NotSelf(string name, string body, string target)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal) { name };
        for (string next = body; GbnfText.IsRuleName(next) && !_json.IsShared(next); next = _rules.BodyOf(next) ?? "")
            if (!seen.Add(next) || next == name)
                throw new GrammarException($"The '$ref' '{target}' refers to itself with nothing in between: no finite document is valid against it.");
        return body;
    }

    /// <summary>Refuses constraining keywords beside one that decides the whole schema ($ref, anyOf, oneOf, allOf).</summary>
    private static void RefuseSiblings(Dictionary<string, JsonNode> k, string keyword, string pointer)
    {
        var others = k.Keys.Where(key => key != keyword).ToList();
        if (others.Count > 0)
            throw new UnsupportedSchemaException(keyword,
                $"'{keyword}' at '{JsonSchemaKeywords.Show(pointer)}' beside '{string.Join("', '", others)}' is not supported (only annotations may stand beside it).");
    }

    private static JsonObject Without(JsonObject schema, string keyword)
    {
        var copy = new JsonObject();
        foreach (var (key, value) in schema)
            if (key != keyword) copy[key] = value?.DeepClone();
        return copy;
    }

    /// <summary>The name hint of a part: the parent's and the part's joined, like llama.cpp's rule names.</summary>
    private static string Hint(string parent, string part) => parent.Length == 0 ? part : parent + "-" + part;

    private static string Describe(JsonNode? node) => node is null ? "null" : node.GetValueKind().ToString().ToLowerInvariant();
}
