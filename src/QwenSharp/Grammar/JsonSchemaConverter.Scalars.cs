using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace QwenSharp.Grammar;

/// <summary>const and enum, strings (length, pattern, format), integers (ranges) and numbers.</summary>
internal sealed partial class JsonSchemaConverter
{
    /// <summary>const/enum: the values as JSON literals, kept only where they also agree with "type" and with each other.</summary>
    private string EnumBody(Dictionary<string, JsonNode> k, string pointer)
    {
        string at = JsonSchemaKeywords.Show(pointer);
        List<JsonNode?> values;
        if (k.TryGetValue("enum", out var e))
        {
            if (e is not JsonArray list || list.Count == 0) throw new GrammarException($"'enum' at '{at}' must be a non-empty array.");
            values = list.ToList();
        }
        else values = [];
        if (k.TryGetValue("const", out var c))
            values = k.ContainsKey("enum") ? values.Where(v => JsonNode.DeepEquals(v, c)).ToList() : [c];
        if (k.ContainsKey("type"))
        {
            var types = Types(k, pointer);
            values = values.Where(v => types.Any(t => HasType(v, t))).ToList();
        }
        var unsupported = k.Keys.FirstOrDefault(key => key is not ("enum" or "const" or "type") && !AppliesOnlyTo(key, values));
        if (unsupported is not null)
            throw new UnsupportedSchemaException(unsupported,
                $"'{unsupported}' at '{at}' beside 'enum'/'const' is not supported (give the allowed values alone).");
        if (values.Count == 0) throw new GrammarException($"The 'enum'/'const' at '{at}' leaves no value that its other keywords allow.");
        var literals = values.Select(v => GbnfText.Literal(CompactJson(v))).Distinct().ToList();
        return (literals.Count == 1 ? literals[0] : "( " + string.Join(" | ", literals) + " )") + " " + _json.Space;
    }

    /// <summary>A type-specific keyword whose type none of the values has, so it cannot reject any of them.</summary>
    private static bool AppliesOnlyTo(string keyword, List<JsonNode?> values)
    {
        string? type = keyword switch
        {
            "properties" or "required" or "additionalProperties" => "object",
            "items" or "prefixItems" or "minItems" or "maxItems" => "array",
            "pattern" or "minLength" or "maxLength" or "format" => "string",
            "minimum" or "maximum" or "exclusiveMinimum" or "exclusiveMaximum" => "number",
            _ => null,
        };
        return type is not null && !values.Any(v => HasType(v, type));
    }

    private static bool HasType(JsonNode? value, string type) => (value?.GetValueKind() ?? JsonValueKind.Null, type) switch
    {
        (JsonValueKind.Null, "null") => true,
        (JsonValueKind.True or JsonValueKind.False, "boolean") => true,
        (JsonValueKind.String, "string") => true,
        (JsonValueKind.Number, "number") => true,
        (JsonValueKind.Number, "integer") => TryDecimal(value!, out var d) && d == decimal.Truncate(d),
        (JsonValueKind.Object, "object") => true,
        (JsonValueKind.Array, "array") => true,
        _ => false,
    };

    /// <summary>A value as compact JSON; strings keep their characters raw where JSON allows.</summary>
    private static string CompactJson(JsonNode? value)
    {
        var sb = new StringBuilder();
        void Write(JsonNode? node)
        {
            switch (node)
            {
                case null: sb.Append("null"); break;
                case JsonObject o:
                    sb.Append('{');
                    bool first = true;
                    foreach (var (key, child) in o)
                    {
                        if (!first) sb.Append(',');
                        first = false;
                        sb.Append('"').Append(RegexGbnfWriter.JsonSpell(key)).Append("\":");
                        Write(child);
                    }
                    sb.Append('}');
                    break;
                case JsonArray a:
                    sb.Append('[');
                    for (int i = 0; i < a.Count; i++)
                    {
                        if (i > 0) sb.Append(',');
                        Write(a[i]);
                    }
                    sb.Append(']');
                    break;
                case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                    sb.Append('"').Append(RegexGbnfWriter.JsonSpell(v.GetValue<string>())).Append('"');
                    break;
                default:
                    sb.Append(node.ToJsonString());
                    break;
            }
        }
        Write(value);
        return sb.ToString();
    }

    private string StringBody(Dictionary<string, JsonNode> k, string pointer)
    {
        string at = JsonSchemaKeywords.Show(pointer);
        int? minLength = Count(k, "minLength", pointer), maxLength = Count(k, "maxLength", pointer);
        if (k.TryGetValue("format", out var format))
        {
            string name = format is JsonValue fv && fv.GetValueKind() == JsonValueKind.String ? fv.GetValue<string>() : format.ToJsonString();
            var rule = _json.Format(name)
                ?? throw new UnsupportedSchemaException("format", $"The string format '{name}' at '{at}' is not supported (date-time, date, time and uuid are).");
            foreach (var other in new[] { "pattern", "minLength", "maxLength" })
                if (k.ContainsKey(other))
                    throw new UnsupportedSchemaException(other, $"'{other}' at '{at}' beside 'format' is not supported.");
            return rule;
        }
        if (k.TryGetValue("pattern", out var pattern))
        {
            if (pattern is not JsonValue pv || pv.GetValueKind() != JsonValueKind.String)
                throw new GrammarException($"'pattern' at '{at}' must be a string.");
            foreach (var other in new[] { "minLength", "maxLength" })
                if (k.ContainsKey(other))
                    throw new UnsupportedSchemaException(other, $"'{other}' at '{at}' beside 'pattern' is not supported.");
            RegexNode node;
            try
            {
                node = RegexParser.Parse(pv.GetValue<string>());
            }
            catch (GrammarException ex)
            {
                throw new UnsupportedSchemaException("pattern", $"'pattern' at '{at}': {ex.Message}");
            }
            // Matched as a whole string (as llama.cpp and xgrammar do); an unanchored pattern admits more, never less.
            return $"\"\\\"\" ( {RegexGbnfWriter.Write(node, insideJsonString: true)} ) \"\\\"\" {_json.Space}";
        }
        int min = minLength ?? 0;
        if (maxLength is int max && max < min) throw new GrammarException($"'maxLength' {max} at '{at}' is below 'minLength' {min}.");
        return $"\"\\\"\" {Repeat(_json.Char, min, maxLength)} \"\\\"\" {_json.Space}";
    }

    private string IntegerBody(Dictionary<string, JsonNode> k, string pointer)
    {
        var (min, max) = IntegerBounds(k, pointer);
        if (min is null && max is null) return _json.Integer;
        return $"( {IntegerRangeGrammar.Range(min, max)} ) {_json.Space}";
    }

    private string NumberBody(Dictionary<string, JsonNode> k, string pointer)
    {
        string at = JsonSchemaKeywords.Show(pointer);
        var bounds = new[] { "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum" }.Where(k.ContainsKey).ToList();
        if (bounds.Count == 0) return _json.Number;
        // A lower bound of 0 alone is a number without a minus sign; other bounds on non-integers are not written.
        if (bounds is ["minimum"] && Bound(k["minimum"], "minimum", pointer) == 0m) return _json.NonNegativeNumber;
        throw new UnsupportedSchemaException(bounds[0],
            $"'{bounds[0]}' at '{at}' on a 'number' is not supported (bounds are supported on 'integer', and 'minimum': 0 on 'number').");
    }

    /// <summary>Inclusive integer bounds from minimum/maximum/exclusiveMinimum/exclusiveMaximum (any JSON number).</summary>
    private static (long? Min, long? Max) IntegerBounds(Dictionary<string, JsonNode> k, string pointer)
    {
        long? min = null, max = null;
        void Lower(long v) => min = min is long m ? Math.Max(m, v) : v;
        void Upper(long v) => max = max is long m ? Math.Min(m, v) : v;
        if (k.TryGetValue("minimum", out var a)) Lower(ToLong(decimal.Ceiling(Bound(a, "minimum", pointer)), "minimum", pointer));
        if (k.TryGetValue("exclusiveMinimum", out var b)) Lower(ToLong(decimal.Floor(Bound(b, "exclusiveMinimum", pointer)) + 1, "exclusiveMinimum", pointer));
        if (k.TryGetValue("maximum", out var c)) Upper(ToLong(decimal.Floor(Bound(c, "maximum", pointer)), "maximum", pointer));
        if (k.TryGetValue("exclusiveMaximum", out var d)) Upper(ToLong(decimal.Ceiling(Bound(d, "exclusiveMaximum", pointer)) - 1, "exclusiveMaximum", pointer));
        if (min is long lo && max is long hi && lo > hi)
            throw new GrammarException($"The integer bounds at '{JsonSchemaKeywords.Show(pointer)}' leave no value ({lo} > {hi}).");
        return (min, max);
    }

    private static decimal Bound(JsonNode node, string keyword, string pointer)
    {
        string at = JsonSchemaKeywords.Show(JsonSchemaKeywords.Pointer(pointer, keyword));
        if (node.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
            throw new UnsupportedSchemaException(keyword, $"'{keyword}' at '{at}' is a boolean (draft 4); give the bound as a number.");
        if (!TryDecimal(node, out var value))
            throw new GrammarException($"'{keyword}' at '{at}' must be a number within ±7.9e28.");
        return value;
    }

    private static long ToLong(decimal value, string keyword, string pointer)
    {
        if (Math.Abs(value) > IntegerRangeGrammar.MaxBound)
            throw new GrammarException($"'{keyword}' {value} at '{JsonSchemaKeywords.Show(pointer)}' is beyond the limit ±{IntegerRangeGrammar.MaxBound}.");
        return (long)value;
    }

    /// <summary>A non-negative count keyword (minLength, maxItems, ...), at most the repetition limit.</summary>
    private static int? Count(Dictionary<string, JsonNode> k, string keyword, string pointer)
    {
        if (!k.TryGetValue(keyword, out var node)) return null;
        string at = JsonSchemaKeywords.Show(JsonSchemaKeywords.Pointer(pointer, keyword));
        if (!TryDecimal(node, out var value)
            || value < 0 || value != decimal.Truncate(value))
            throw new GrammarException($"'{keyword}' at '{at}' must be a non-negative integer.");
        if (value > RegexParser.MaxRepeat)
            throw new GrammarException($"'{keyword}' {value} at '{at}' is beyond the limit {RegexParser.MaxRepeat}.");
        return (int)value;
    }

    /// <summary>A JSON number as a decimal, whether the node was parsed or built in code (JsonValue of long, double, ...).</summary>
    private static bool TryDecimal(JsonNode node, out decimal value)
    {
        value = 0;
        return node.GetValueKind() == JsonValueKind.Number
            && decimal.TryParse(node.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>item repeated min to max times (max null: unbounded), in GBNF's repetition syntax.</summary>
    private static string Repeat(string item, int min, int? max) => (min, max) switch
    {
        (_, 0) => "\"\"",
        (0, 1) => item + "?",
        (0, null) => item + "*",
        (1, null) => item + "+",
        (_, null) => item + "{" + min.ToString(CultureInfo.InvariantCulture) + ",}",
        (_, int m) when m == min => min == 1 ? item : item + "{" + min.ToString(CultureInfo.InvariantCulture) + "}",
        (_, int m) => item + "{" + min.ToString(CultureInfo.InvariantCulture) + "," + m.ToString(CultureInfo.InvariantCulture) + "}",
    };
}
