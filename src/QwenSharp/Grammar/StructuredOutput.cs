using System.Text.Json.Nodes;

namespace QwenSharp.Grammar;

/// <summary>The forms a request can constrain its output in (vLLM's structured_outputs, OpenAI's response_format, llama-server's grammar).</summary>
public enum StructuredOutputKind
{
    /// <summary>Any JSON object (response_format json_object, Ollama format "json").</summary>
    JsonObject,
    /// <summary>A JSON document valid against a schema (response_format json_schema, guided_json, Ollama format {schema}).</summary>
    JsonSchema,
    /// <summary>A string the whole regular expression matches (guided_regex).</summary>
    Regex,
    /// <summary>Exactly one of a list of strings (guided_choice).</summary>
    Choice,
    /// <summary>A GBNF grammar (llama-server's grammar; guided_grammar in GBNF form).</summary>
    Gbnf,
    /// <summary>A Lark / EBNF grammar (vLLM's guided_grammar in Lark form).</summary>
    Lark,
}

/// <summary>
/// What one request constrains its output to, before compilation: a kind and its source. <see cref="ToGbnf"/>
/// turns every kind into GBNF text, which <see cref="GrammarCache"/> compiles once per text.
/// <see cref="Param"/> names the request field it came from, so a refusal can say which one.
/// </summary>
public sealed record StructuredOutput(StructuredOutputKind Kind, string Param)
{
    public JsonNode? Schema { get; init; }
    public string? Text { get; init; }
    public IReadOnlyList<string>? Choices { get; init; }

    /// <summary>The constraint of a request with tools: Qwen's tool calls (<see cref="ToolCallGrammar"/>).</summary>
    public static StructuredOutput ToolCalls(string gbnf, string param) => new(StructuredOutputKind.Gbnf, param) { Text = gbnf, Label = "tool_calls" };

    /// <summary>The name reported for this constraint instead of the kind's (e.g. "tool_calls").</summary>
    public string? Label { get; init; }

    public static StructuredOutput JsonObject(string param) => new(StructuredOutputKind.JsonObject, param);
    public static StructuredOutput JsonSchema(JsonNode schema, string param) => new(StructuredOutputKind.JsonSchema, param) { Schema = schema };
    public static StructuredOutput Regex(string pattern, string param) => new(StructuredOutputKind.Regex, param) { Text = pattern };
    public static StructuredOutput Choice(IReadOnlyList<string> choices, string param) => new(StructuredOutputKind.Choice, param) { Choices = choices };

    /// <summary>A grammar in GBNF or Lark; Lark is recognised as vLLM does (a GBNF grammar always has "::=").</summary>
    public static StructuredOutput Grammar(string text, string param) =>
        new(text.Contains("::=", StringComparison.Ordinal) ? StructuredOutputKind.Gbnf : StructuredOutputKind.Lark, param) { Text = text };

    /// <summary>The GBNF text for this constraint; throws <see cref="GrammarException"/> naming what cannot be compiled.</summary>
    public string ToGbnf() => Kind switch
    {
        StructuredOutputKind.JsonObject => JsonSchemaGrammar.AnyObject(),
        StructuredOutputKind.JsonSchema => JsonSchemaGrammar.ToGbnf(Schema ?? throw new GrammarException("The JSON schema is missing.")),
        StructuredOutputKind.Regex => RegexGrammar.ToGbnf(Text!),
        StructuredOutputKind.Choice => ChoiceGrammar.ToGbnf(Choices!),
        StructuredOutputKind.Gbnf => Text!,
        StructuredOutputKind.Lark => LarkGrammar.ToGbnf(Text!),
        _ => throw new ArgumentOutOfRangeException(nameof(Kind)),
    };

    /// <summary>
    /// This constraint as rules of a larger grammar: its start rule named <paramref name="rootRule"/>, every other rule
    /// prefixed with <paramref name="rulePrefix"/> (so it can stand beside tool calls). User grammars (GBNF, Lark) name
    /// their own rules and cannot be embedded: they throw <see cref="GrammarException"/>.
    /// </summary>
    public string ToGbnf(string rootRule, string rulePrefix) => Kind switch
    {
        StructuredOutputKind.JsonObject => JsonSchemaGrammar.AnyObject(rootRule, rulePrefix),
        StructuredOutputKind.JsonSchema => JsonSchemaGrammar.ToGbnf(Schema ?? throw new GrammarException("The JSON schema is missing."), rootRule, rulePrefix),
        StructuredOutputKind.Regex => RegexGrammar.ToGbnf(Text!, rootRule, rulePrefix),
        StructuredOutputKind.Choice => ChoiceGrammar.ToGbnf(Choices!, rootRule),
        _ => throw new GrammarException($"A {WireName} given in '{Param}' cannot be combined with tools; use a JSON schema, a regex or choices."),
    };

    /// <summary>The name vLLM reports for the kind (structured_outputs keys).</summary>
    public string WireName => Label ?? Kind switch
    {
        StructuredOutputKind.JsonObject => "json_object",
        StructuredOutputKind.JsonSchema => "json",
        StructuredOutputKind.Regex => "regex",
        StructuredOutputKind.Choice => "choice",
        _ => "grammar",
    };
}
