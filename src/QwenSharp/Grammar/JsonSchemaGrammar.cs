using System.Text.Json.Nodes;

namespace QwenSharp.Grammar;

/// <summary>
/// JSON Schema to GBNF, for response_format json_schema, guided_json, Ollama's format and tool arguments. The
/// subset is OpenAI strict mode's and vLLM's; any other keyword is refused with <see cref="UnsupportedSchemaException"/>.
/// Whitespace between tokens is bounded so that no weights can loop on it.
/// </summary>
public static class JsonSchemaGrammar
{
    /// <summary>GBNF whose rule <paramref name="rootRule"/> matches exactly the JSON documents valid against
    /// <paramref name="schema"/>; every other rule it writes starts with <paramref name="rulePrefix"/>, so several
    /// schemas can be joined in one grammar.</summary>
    /// <remarks>"Exactly" within the documents the grammar spells: bounded whitespace, numbers of at most 15
    /// integral digits, properties in the order of <see cref="JsonSchemaConverter"/>; oneOf is read as anyOf.</remarks>
    public static string ToGbnf(JsonNode schema, string rootRule = "root", string rulePrefix = "")
    {
        ArgumentNullException.ThrowIfNull(schema);
        GbnfText.CheckName(rootRule, "root rule", mayBeEmpty: false);
        GbnfText.CheckName(rulePrefix, "rule prefix", mayBeEmpty: true);
        return JsonSchemaConverter.Convert(schema, rootRule, rulePrefix);
    }

    /// <summary>GBNF for any JSON object (response_format json_object, Ollama format "json").</summary>
    public static string AnyObject(string rootRule = "root", string rulePrefix = "")
    {
        GbnfText.CheckName(rootRule, "root rule", mayBeEmpty: false);
        GbnfText.CheckName(rulePrefix, "rule prefix", mayBeEmpty: true);
        return JsonSchemaConverter.AnyObject(rootRule, rulePrefix);
    }
}
