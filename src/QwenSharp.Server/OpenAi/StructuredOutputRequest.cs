using System.Text.Json;
using System.Text.Json.Nodes;
using QwenSharp.Grammar;

namespace QwenSharp.Server.OpenAi;

/// <summary>
/// Every field through which clients ask for constrained output, read into one <see cref="StructuredOutput"/>:
/// OpenAI's response_format (text | json_object | json_schema), vLLM's structured_outputs {json, regex, choice,
/// grammar, json_object} and its older guided_json / guided_regex / guided_choice / guided_grammar, and
/// llama-server's grammar and json_schema. Two of them in one request are refused naming both, as vLLM refuses
/// more than one kind of guided decoding.
/// </summary>
public static class StructuredOutputRequest
{
    public static StructuredOutput? Read(RequestFields f)
    {
        var found = new List<StructuredOutput>();
        ResponseFormat(f, found);
        if (f.Object("structured_outputs") is { } so)
        {
            Guided(so, "json", "regex", "choice", "grammar", found);
            if (so.Bool("json_object") == true) found.Add(StructuredOutput.JsonObject(so.Name("json_object")));
            // Hints about how to compile, not what is valid.
            so.Bool("disable_fallback");
            so.Bool("disable_additional_properties");
            so.String("backend");
            so.Ignore("whitespace_pattern");
            if (so.Bool("disable_any_whitespace") == true)
                throw ApiException.BadRequest("'structured_outputs.disable_any_whitespace' is not supported: QwenSharp's JSON grammars allow bounded whitespace.", so.Name("disable_any_whitespace"));
            if (so.Raw("structural_tag") is not null)
                throw ApiException.BadRequest("'structured_outputs.structural_tag' is not supported; use tools or a grammar.", so.Name("structural_tag"));
            so.RejectUnread();
        }
        Guided(f, "guided_json", "guided_regex", "guided_choice", "guided_grammar", found);
        // vLLM's choice of engine (xgrammar, guidance, outlines, auto): QwenSharp has one engine, and every engine
        // accepts the same language for the same constraint.
        f.String("guided_decoding_backend");
        if (f.String("guided_whitespace_pattern") is not null)
            throw ApiException.BadRequest("'guided_whitespace_pattern' is not supported: QwenSharp's JSON grammars allow bounded whitespace.", "guided_whitespace_pattern");
        // llama-server's fields.
        if (f.String("grammar") is { } gbnf) found.Add(StructuredOutput.Grammar(gbnf, "grammar"));
        if (f.Raw("json_schema") is { } js) found.Add(StructuredOutput.JsonSchema(Schema(js, f.Name("json_schema")), f.Name("json_schema")));

        if (found.Count > 1)
            throw ApiException.BadRequest($"Only one kind of structured output may be requested, got '{found[0].Param}' and '{found[1].Param}'.", found[1].Param);
        return found.Count == 1 ? found[0] : null;
    }

    private static void Guided(RequestFields f, string json, string regex, string choice, string grammar, List<StructuredOutput> found)
    {
        if (f.Raw(json) is { } j) found.Add(StructuredOutput.JsonSchema(Schema(j, f.Name(json)), f.Name(json)));
        if (f.String(regex) is { } r) found.Add(StructuredOutput.Regex(r, f.Name(regex)));
        if (f.Raw(choice) is { } c)
        {
            if (c.ValueKind != JsonValueKind.Array || c.GetArrayLength() == 0 || c.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
                throw f.TypeError(choice, "a non-empty array of strings", c);
            found.Add(StructuredOutput.Choice([.. c.EnumerateArray().Select(x => x.GetString()!)], f.Name(choice)));
        }
        if (f.String(grammar) is { } g) found.Add(StructuredOutput.Grammar(g, f.Name(grammar)));
    }

    /// <summary>OpenAI's response_format: text (nothing to do), json_object, or json_schema {name, schema, strict, description}.</summary>
    private static void ResponseFormat(RequestFields f, List<StructuredOutput> found)
    {
        if (f.Object("response_format") is not { } rf) return;
        string? type = rf.String("type");
        switch (type)
        {
            case "text":
                break;
            case "json_object":
                found.Add(StructuredOutput.JsonObject(f.Name("response_format")));
                break;
            case "json_schema":
                var js = rf.Object("json_schema")
                    ?? throw ApiException.BadRequest("'response_format.json_schema' is required when type is \"json_schema\".", rf.Name("json_schema"));
                js.String("name");
                js.String("description");
                // strict false asks for best effort; a constrained output meets strict and non-strict alike.
                js.Bool("strict");
                var schema = js.Raw("schema");
                // OpenAI requires a schema; an absent one allows any JSON value, as vLLM reads it.
                found.Add(schema is { } s
                    ? StructuredOutput.JsonSchema(Schema(s, js.Name("schema")), js.Name("schema"))
                    : StructuredOutput.JsonObject(rf.Name("json_schema")));
                js.RejectUnread();
                break;
            case null:
                throw ApiException.BadRequest("'response_format.type' is required: \"text\", \"json_object\" or \"json_schema\".", rf.Name("type"));
            default:
                throw ApiException.BadRequest($"'response_format.type' must be \"text\", \"json_object\" or \"json_schema\", got \"{type}\".", rf.Name("type"));
        }
        rf.RejectUnread();
    }

    /// <summary>A schema given as an object, or as a JSON string holding one (vLLM accepts both for guided_json).</summary>
    private static JsonNode Schema(JsonElement v, string param)
    {
        if (v.ValueKind == JsonValueKind.String)
        {
            try
            {
                return JsonNode.Parse(v.GetString()!) is JsonObject o ? o
                    : throw ApiException.BadRequest($"'{param}' must be a JSON schema object.", param);
            }
            catch (JsonException e)
            {
                throw ApiException.BadRequest($"'{param}' is not valid JSON: {e.Message}", param);
            }
        }
        if (v.ValueKind is not (JsonValueKind.Object or JsonValueKind.True))
            throw ApiException.BadRequest($"'{param}' must be a JSON schema object, got {RequestFields.DescribeValue(v)}.", param);
        return JsonNode.Parse(v.GetRawText())!;
    }
}
