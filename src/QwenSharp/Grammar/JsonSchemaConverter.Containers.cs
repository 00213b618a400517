using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace QwenSharp.Grammar;

/// <summary>Objects (properties, required, additionalProperties) and arrays (items, prefixItems, minItems, maxItems).</summary>
internal sealed partial class JsonSchemaConverter
{
    /// <summary>
    /// Required properties first, then the optional ones, each group in schema order (llama.cpp's order). A missing
    /// additionalProperties is false where "properties" is given, as llama.cpp and xgrammar read it; an object
    /// schema with neither is any object.
    /// </summary>
    private string ObjectBody(Dictionary<string, JsonNode> k, string pointer, string hint)
    {
        string at = JsonSchemaKeywords.Show(pointer);
        var properties = new List<(string Name, JsonNode? Schema)>();
        if (k.TryGetValue("properties", out var props))
        {
            if (props is not JsonObject po) throw new GrammarException($"'properties' at '{at}' must be an object.");
            // A property whose schema is JSON null is absent (OllamaSharp writes unset members as null).
            foreach (var (name, schema) in po) if (schema is not null) properties.Add((name, schema));
        }
        var required = new HashSet<string>(StringComparer.Ordinal);
        if (k.TryGetValue("required", out var req))
        {
            if (req is not JsonArray ra || ra.Any(r => r is not JsonValue rv || rv.GetValueKind() != JsonValueKind.String))
                throw new GrammarException($"'required' at '{at}' must be an array of property names.");
            foreach (var r in ra) required.Add(r!.GetValue<string>());
            var undeclared = required.Where(r => properties.All(p => p.Name != r)).ToList();
            if (undeclared.Count > 0)
                throw new UnsupportedSchemaException("required",
                    $"'required' at '{at}' names '{string.Join("', '", undeclared)}', which 'properties' does not declare.");
        }
        k.TryGetValue("additionalProperties", out var additional);
        bool closed = additional is JsonValue av && av.GetValueKind() == JsonValueKind.False;
        if (additional is null && properties.Count == 0) return _json.Object;
        string? extraKv = null;
        if (additional is not null && !closed)
        {
            string valueRule = Rule(additional, JsonSchemaKeywords.Pointer(pointer, "additionalProperties"), Hint(hint, "additional-value"));
            string keyRule = properties.Count == 0 ? _json.String : OtherKeyRule(properties.Select(p => p.Name), hint);
            extraKv = _rules.Add(Hint(hint, "additional-kv"), $"{keyRule} \":\" {_json.Space} {valueRule}");
        }

        var ordered = properties.Where(p => required.Contains(p.Name)).Concat(properties.Where(p => !required.Contains(p.Name))).ToList();
        string comma = $"\",\" {_json.Space}";
        // Tail(i): what may follow once something was written; Head(i): what may come first. Both from the end back.
        string tail = extraKv is null ? "" : $"( {comma} {extraKv} )*";
        string head = extraKv is null ? "" : $"( {extraKv} {Named(Hint(hint, "additional-rest"), tail)} )?";
        for (int i = ordered.Count - 1; i >= 0; i--)
        {
            var (name, schema) = ordered[i];
            string propPointer = JsonSchemaKeywords.Pointer(JsonSchemaKeywords.Pointer(pointer, "properties"), name);
            string valueRule = Rule(schema, propPointer, Hint(hint, name));
            string kv = _rules.Add(Hint(hint, name + "-kv"),
                $"{GbnfText.Literal("\"" + RegexGbnfWriter.JsonSpell(name) + "\"")} {_json.Space} \":\" {_json.Space} {valueRule}");
            string tailRule = Named(Hint(hint, name + "-rest"), tail);
            if (required.Contains(name))
            {
                head = Join(kv, tailRule);
                tail = Join($"{comma} {kv}", tailRule);
            }
            else
            {
                string headRule = Named(Hint(hint, name + "-first"), head);
                head = headRule.Length == 0 ? $"( {Join(kv, tailRule)} )?" : $"( {Join(kv, tailRule)} | {headRule} )";
                tail = Join($"( {comma} {kv} )?", tailRule);
            }
        }
        return $"\"{{\" {_json.Space} {(head.Length > 0 ? head + " " : "")}\"}}\" {_json.Space}";
    }

    /// <summary>A rule for a non-trivial expression, so that it is written once however often it is used.</summary>
    private string Named(string hint, string body) => body.Length == 0 || GbnfText.IsRuleName(body) ? body : _rules.Add(hint, body);

    private static string Join(string a, string b) => b.Length == 0 ? a : a + " " + b;

    /// <summary>
    /// A quoted key that is none of <paramref name="declared"/>, so an extra property cannot stand in for a declared
    /// one: a walk down the trie of the declared names that leaves it by a different character or ends early.
    /// Extra keys are spelt with raw characters only (no escapes), so no escape can spell a declared name.
    /// </summary>
    private string OtherKeyRule(IEnumerable<string> declared, string hint)
    {
        var root = new TrieNode();
        foreach (var name in declared)
        {
            if (RegexGbnfWriter.JsonSpell(name) != name) continue; // needs escapes: no raw key can spell it
            var node = root;
            foreach (int c in GbnfText.CodePoints(name)) node = node.Child(c);
            node.Terminal = true;
        }
        string keyChar = _json.KeyChar;
        string rest = _rules.Add(Hint(hint, "key-rest"), $"{keyChar}* \"\\\"\"");
        int counter = 0;
        string Walk(TrieNode node)
        {
            var alternatives = new List<string>();
            if (!node.Terminal) alternatives.Add("\"\\\"\"");
            var others = JsonPrimitiveRules.RawChars.Except(CodePointSet.Of(node.Children.Keys.Select(c => (c, c)).ToArray()));
            if (!others.IsEmpty) alternatives.Add(others.ToGbnfClass() + " " + rest);
            foreach (var (c, child) in node.Children.OrderBy(p => p.Key))
                alternatives.Add(GbnfText.Literal(char.ConvertFromUtf32(c)) + " " + Walk(child));
            return _rules.Add(Hint(hint, "key-" + (counter++).ToString(CultureInfo.InvariantCulture)), string.Join(" | ", alternatives));
        }
        string start = Walk(root);
        return _rules.Add(Hint(hint, "other-key"), $"\"\\\"\" {start} {_json.Space}");
    }

    private sealed class TrieNode
    {
        public Dictionary<int, TrieNode> Children { get; } = [];
        public bool Terminal { get; set; }
        public TrieNode Child(int c) => Children.TryGetValue(c, out var n) ? n : Children[c] = new TrieNode();
    }

    /// <summary>
    /// prefixItems in order, then "items" for the rest, within minItems..maxItems. Without "items" beside
    /// prefixItems the array ends after them unless minItems asks for more (then any values follow).
    /// </summary>
    private string ArrayBody(Dictionary<string, JsonNode> k, string pointer, string hint)
    {
        string at = JsonSchemaKeywords.Show(pointer);
        int min = Count(k, "minItems", pointer) ?? 0;
        int? max = Count(k, "maxItems", pointer);
        if (max is int m && m < min) throw new GrammarException($"'maxItems' {m} at '{at}' is below 'minItems' {min}.");
        var prefix = new List<JsonNode?>();
        if (k.TryGetValue("prefixItems", out var p))
        {
            if (p is not JsonArray pa) throw new GrammarException($"'prefixItems' at '{at}' must be an array of schemas.");
            prefix.AddRange(pa);
        }
        k.TryGetValue("items", out var items);
        if (items is JsonArray)
            throw new UnsupportedSchemaException("items", $"'items' at '{at}' is an array (draft 4 tuples); use 'prefixItems'.");
        int fixedCount = max is int mx ? Math.Min(prefix.Count, mx) : prefix.Count;
        string? extra = null;
        int extraMin = Math.Max(0, min - fixedCount);
        int? extraMax = max is int x ? x - fixedCount : null;
        bool itemsFalse = items is JsonValue iv && iv.GetValueKind() == JsonValueKind.False;
        if (itemsFalse || (items is null && prefix.Count > 0))
        {
            if (extraMin > 0 && itemsFalse)
                throw new GrammarException($"'minItems' {min} at '{at}' asks for more items than 'prefixItems' gives while 'items' is false.");
            if (extraMin > 0) extra = _json.Value;
            extraMax = extraMin;
        }
        else extra = Rule(items ?? JsonValue.Create(true), JsonSchemaKeywords.Pointer(pointer, "items"), Hint(hint, "item"));

        string comma = $"\",\" {_json.Space}";
        var parts = new List<string>();
        for (int i = 0; i < fixedCount; i++)
        {
            string rule = Rule(prefix[i], JsonSchemaKeywords.Pointer(JsonSchemaKeywords.Pointer(pointer, "prefixItems"), i.ToString(CultureInfo.InvariantCulture)),
                Hint(hint, "tuple-" + i.ToString(CultureInfo.InvariantCulture)));
            parts.Add(i == 0 ? rule : $"{comma} {rule}");
        }
        string list = string.Join(" ", parts);
        if (extra is not null && extraMax != 0)
        {
            if (fixedCount > 0)
                list = Join(list, Repeat($"( {comma} {extra} )", extraMin, extraMax));
            else if (extraMin == 0)
                list = $"( {extra} {Repeat($"( {comma} {extra} )", 0, extraMax - 1)} )?";
            else
                list = Join(extra, Repeat($"( {comma} {extra} )", extraMin - 1, extraMax - 1));
        }
        return $"\"[\" {_json.Space} {(list.Length > 0 ? list + " " : "")}\"]\" {_json.Space}";
    }
}
