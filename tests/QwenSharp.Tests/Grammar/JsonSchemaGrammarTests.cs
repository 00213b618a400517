using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using QwenSharp.Grammar;
using Xunit.Abstractions;

namespace QwenSharp.Tests.Grammar;

public sealed class JsonSchemaGrammarTests(ITestOutputHelper output)
{
    private static readonly EvaluationOptions Strict = new() { RequireFormatValidation = true, OutputFormat = OutputFormat.Flag };

    /// <summary>The schema for the validator: members whose value is null dropped, as the front end reads them, and
    /// OpenAPI's "nullable": true (which JSON Schema validators do not know) written as "null" among the types.</summary>
    private static string WithoutNulls(string schemaText)
    {
        static JsonNode? Strip(JsonNode? node)
        {
            if (node is JsonObject o)
            {
                var copy = new JsonObject();
                foreach (var (key, value) in o)
                    if (value is not null && key != "nullable") copy[key] = Strip(value);
                if (o["nullable"]?.GetValue<bool>() == true && copy["type"] is JsonValue t)
                    copy["type"] = new JsonArray(t.GetValue<string>(), "null");
                return copy;
            }
            if (node is JsonArray a) return new JsonArray(a.Select(Strip).ToArray());
            return node?.DeepClone();
        }
        return Strip(JsonNode.Parse(schemaText))!.ToJsonString();
    }

    private static bool Valid(string schemaText, string document)
    {
        var schema = JsonSchema.FromText(WithoutNulls(schemaText));
        JsonNode? node;
        try
        {
            using var doc = JsonDocument.Parse(document);
            node = JsonNode.Parse(document);
        }
        catch (JsonException)
        {
            return false;
        }
        return schema.Evaluate(node, Strict).IsValid;
    }

    [Fact]
    public void EveryCorpusGrammarParsesInLlamaCpp()
    {
        var oracle = LlamaGrammarOracle.Shared;
        foreach (var schema in SchemaGrammarCorpus.Schemas)
        {
            string gbnf = JsonSchemaGrammar.ToGbnf(JsonNode.Parse(schema)!);
            Assert.True(oracle.Parses(gbnf), $"llama.cpp refused the grammar of {schema}:\n{gbnf}");
        }
        Assert.True(oracle.Parses(JsonSchemaGrammar.AnyObject()));
        Assert.True(oracle.Parses(JsonSchemaGrammar.AnyObject("obj", "p-")  + "root ::= obj\n"));
    }

    [Fact]
    public void DocumentsDrawnUnderTheGrammarValidate()
    {
        const int Seeds = 5, MaxTokens = 120;
        var oracle = LlamaGrammarOracle.Shared;
        int finished = 0, cut = 0;
        var failures = new List<string>();
        foreach (var schema in SchemaGrammarCorpus.Schemas)
        {
            string gbnf = JsonSchemaGrammar.ToGbnf(JsonNode.Parse(schema)!);
            for (int seed = 1; seed <= Seeds; seed++)
            {
                var document = oracle.Generate(gbnf, seed, MaxTokens);
                if (document is null) { cut++; continue; }
                finished++;
                if (!Valid(schema, document)) failures.Add($"{schema}\n  => {JsonSerializer.Serialize(document)}");
            }
        }
        output.WriteLine($"steps {LlamaGrammarOracle.Steps}, steps that computed the allowed set {LlamaGrammarOracle.Widened}");
        output.WriteLine($"{SchemaGrammarCorpus.Schemas.Length} schemas x {Seeds} seeds: {finished} finished, {cut} cut at {MaxTokens} tokens, {failures.Count} invalid");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(finished >= 0.8 * (finished + cut), $"only {finished} of {finished + cut} documents finished");
    }

    public static TheoryData<string, string> InvalidDocuments => new()
    {
        { """{"type":"integer","minimum":-5,"maximum":12}""", "13" },
        { """{"type":"integer","minimum":-5,"maximum":12}""", "-6" },
        { """{"type":"integer","minimum":-5,"maximum":12}""", "1.5" },
        { """{"type":"integer","minimum":-5,"maximum":12}""", "05" },
        { """{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":1000}""", "0" },
        { """{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":1000}""", "1000" },
        { """{"type":"string","minLength":2,"maxLength":5}""", "\"a\"" },
        { """{"type":"string","minLength":2,"maxLength":5}""", "\"abcdef\"" },
        { """{"type":"string"}""", "\"a\nb\"" },
        { """{"type":"string"}""", "\"\\x\"" },
        { """{"type":"string","format":"date"}""", "\"2023-02-30\"" },
        { """{"type":"string","format":"date"}""", "\"2023-13-01\"" },
        { """{"type":"string","format":"uuid"}""", "\"123e4567-e89b-12d3-a456-42661417400\"" },
        { """{"type":"string","pattern":"^[A-Z]{3}-\\d{2,4}$"}""", "\"AB-12\"" },
        { """{"type":"string","pattern":"^[A-Z]{3}-\\d{2,4}$"}""", "\"ABC-12345\"" },
        { """{"enum":["red","green","blue",1,null,true]}""", "\"yellow\"" },
        { """{"enum":["red","green","blue",1,null,true]}""", "false" },
        { """{"type":"string","enum":["x","y",3]}""", "3" },
        { """{"const":{"a":[1,"two",null]}}""", """{"a":[1,"two"]}""" },
        { """{"type":"array","items":{"type":"boolean"},"minItems":2,"maxItems":4}""", "[true]" },
        { """{"type":"array","items":{"type":"boolean"},"minItems":2,"maxItems":4}""", "[true,true,true,true,true]" },
        { """{"type":"array","items":{"type":"boolean"},"minItems":2,"maxItems":4}""", "[true,1]" },
        { """{"type":"array","prefixItems":[{"type":"integer"},{"type":"string","maxLength":3}],"items":false}""", "[1,\"a\",2]" },
        { """{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string","maxLength":4}},"required":["a","b"]}""", """{"a":1}""" },
        { """{"type":"object","properties":{"name":{"type":"string","maxLength":6}},"required":["name"],"additionalProperties":false}""", """{"name":"x","c":2}""" },
        { """{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"boolean"},"c":{"type":"null"}},"required":["b"]}""", """{"a":1}""" },
        { """{"type":"object","properties":{"id":{"type":"integer","minimum":0,"maximum":99}},"additionalProperties":{"type":"boolean"}}""", """{"id":true}""" },
        { """{"type":"object","properties":{"id":{"type":"integer","minimum":0,"maximum":99}},"additionalProperties":{"type":"boolean"}}""", """{"x":1}""" },
        { """{"type":"object","additionalProperties":{"type":"integer","minimum":0,"maximum":3}}""", """{"x":4}""" },
        { """{"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer","minimum":0,"maximum":9},"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["v","next"]}},"$ref":"#/$defs/node"}""", """{"v":1,"next":{"v":10,"next":null}}""" },
        { """{"type":"object","properties":{"n":{"type":"integer","nullable":true},"s":{"type":"string","maxLength":2,"nullable":true}},"required":["n","s"]}""", """{"n":"1","s":null}""" },
        { """{"type":"number","minimum":0}""", "-1.5" },
        { """{"type":["integer","boolean"]}""", "null" },
    };

    [Theory]
    [MemberData(nameof(InvalidDocuments))]
    public void InvalidDocumentsAreNotDerived(string schema, string document)
    {
        Assert.False(Valid(schema, document), "the independent validator must reject the negative example itself");
        string gbnf = JsonSchemaGrammar.ToGbnf(JsonNode.Parse(schema)!);
        Assert.False(LlamaGrammarOracle.Shared.Derives(gbnf, document), $"{document} was derived from\n{gbnf}");
    }

    public static TheoryData<string, string> ValidDocuments => new()
    {
        { """{"type":"integer","minimum":-5,"maximum":12}""", "-5" },
        { """{"type":"integer","minimum":-5,"maximum":12}""", "12" },
        { """{"type":"string"}""", "\"a\\nb \\u00e9 \\\" \\\\ /\"" },
        { """{"type":"string","format":"date-time"}""", "\"2024-02-28T23:59:59.123+05:30\"" },
        { """{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"boolean"},"c":{"type":"null"}},"required":["b"]}""", "{ \"b\": false, \"c\": null }" },
        { """{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"boolean"},"c":{"type":"null"}},"required":["b"]}""", "{\n  \"b\": true,\n  \"a\": -3\n}" },
        { """{"type":"object","properties":{"id":{"type":"integer","minimum":0,"maximum":99}},"additionalProperties":{"type":"boolean"}}""", """{"id":7,"idx":true,"i":false}""" },
        { """{"type":"object","properties":{"children":{"type":"array","items":{"$ref":"#"},"maxItems":2},"label":{"type":"string","maxLength":2}},"required":["label","children"]}""", """{"children":[{"children":[],"label":"b"}],"label":"a"}""" },
        { """{"type":"object","properties":{"q\"uote":{"type":"boolean"},"slash/key":{"type":"integer","maximum":0}},"required":["q\"uote","slash/key"]}""", """{"q\"uote":true,"slash/key":-4}""" },
        { """{"const":"é \"quoted\""}""", "\"é \\\"quoted\\\"\"" },
        { """{"type":"number","minimum":0}""", "0.5e-3" },
    };

    [Theory]
    [MemberData(nameof(ValidDocuments))]
    public void ValidDocumentsAreDerived(string schema, string document)
    {
        Assert.True(Valid(schema, document), "the independent validator must accept the example itself");
        string gbnf = JsonSchemaGrammar.ToGbnf(JsonNode.Parse(schema)!);
        Assert.True(LlamaGrammarOracle.Shared.Derives(gbnf, document), $"{document} was not derived from\n{gbnf}");
    }

    [Fact]
    public void IntegerRangesDeriveExactlyTheirIntegers()
    {
        var ranges = new (long? Min, long? Max)[] { (-5, 12), (0, 0), (7, 1234), (-1234, -7), (-101, 99), (10, 100), (95, 105), (null, -3), (-20, null), (990, 1010) };
        foreach (var (min, max) in ranges)
        {
            var schema = new JsonObject { ["type"] = "integer" };
            if (min is long lo) schema["minimum"] = lo;
            if (max is long hi) schema["maximum"] = hi;
            string gbnf = JsonSchemaGrammar.ToGbnf(schema);
            long from = (min ?? (max ?? 0) - 150) - 30, to = (max ?? (min ?? 0) + 150) + 30;
            for (long v = from; v <= to; v++)
            {
                bool inside = (min is null || v >= min) && (max is null || v <= max);
                Assert.True(inside == LlamaGrammarOracle.Shared.Derives(gbnf, v.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    $"{v} in [{min}, {max}]: expected {(inside ? "derived" : "refused")}\n{gbnf}");
            }
        }
    }

    public static TheoryData<string, string> Unsupported => new()
    {
        { """{"type":"object","patternProperties":{"^x":{}}}""", "patternProperties" },
        { """{"not":{"type":"string"}}""", "not" },
        { """{"if":{"type":"string"},"then":{"maxLength":2}}""", "if" },
        { """{"type":"object","properties":{"a":{"type":"integer"}},"dependentRequired":{"a":["b"]}}""", "dependentRequired" },
        { """{"type":"array","uniqueItems":true}""", "uniqueItems" },
        { """{"type":"integer","multipleOf":3}""", "multipleOf" },
        { """{"type":"array","contains":{"type":"integer"}}""", "contains" },
        { """{"type":"string","format":"email"}""", "format" },
        { """{"$ref":"https://example.com/schema.json"}""", "$ref" },
        { """{"type":"object","properties":{"a":{"type":"object","minProperties":1}}}""", "minProperties" },
        { """{"allOf":[{"type":"integer"},{"minimum":1}]}""", "allOf" },
        { """{"type":"string","pattern":"^(a)\\1$"}""", "pattern" },
        { """{"type":"number","maximum":3.5}""", "maximum" },
        { """{"type":"string","contentEncoding":"base64"}""", "contentEncoding" },
    };

    [Theory]
    [MemberData(nameof(Unsupported))]
    public void UnsupportedKeywordsAreRefusedByName(string schema, string keyword)
    {
        var ex = Assert.Throws<UnsupportedSchemaException>(() => JsonSchemaGrammar.ToGbnf(JsonNode.Parse(schema)!));
        Assert.Equal(keyword, ex.Keyword);
        Assert.Contains(keyword, ex.Message);
        Assert.Contains("'#", ex.Message);
    }

    [Theory]
    [InlineData("""{"$ref":"#"}""")]
    [InlineData("""{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}""")]
    public void BareSelfReferencesAreRefused(string schema)
    {
        var ex = Assert.Throws<GrammarException>(() => JsonSchemaGrammar.ToGbnf(JsonNode.Parse(schema)!));
        Assert.Contains("refers to itself", ex.Message);
    }

    [Fact]
    public void RulePrefixKeepsEveryOtherRuleApart()
    {
        string a = JsonSchemaGrammar.ToGbnf(JsonNode.Parse(SchemaGrammarCorpus.Schemas[47])!, "first", "a-");
        string b = JsonSchemaGrammar.ToGbnf(JsonNode.Parse(SchemaGrammarCorpus.Schemas[50])!, "second", "b-");
        foreach (var line in (a + b).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string name = line[..line.IndexOf(" ::=", StringComparison.Ordinal)];
            Assert.True(name is "first" or "second" || name.StartsWith("a-", StringComparison.Ordinal) || name.StartsWith("b-", StringComparison.Ordinal), name);
        }
        Assert.True(LlamaGrammarOracle.Shared.Parses(a + b + "root ::= first | second\n"));
    }
}
