using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using OllamaSharp;
using OpenAI;
using OpenAI.Chat;

namespace QwenSharp.Server.Tests;

/// <summary>
/// Constrained output through every field clients use for it, on a random-weight model with the real tokenizer:
/// random weights at temperature 1 follow no format by themselves, so every valid document here is the grammar's
/// doing. Documents are checked by an independent validator (NJsonSchema), regexes by .NET's Regex.
/// </summary>
public sealed class StructuredOutputTests(RealModelFixture fixture) : IClassFixture<RealModelFixture>
{
    private const string PersonSchema = """
        {"type": "object", "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer", "minimum": 0, "maximum": 150},
         "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 3}}, "required": ["name", "age", "tags"], "additionalProperties": false}
        """;

    private OpenAIClient Client() => new(new ApiKeyCredential("unused"),
        new OpenAIClientOptions { Endpoint = new Uri(fixture.Server.BaseUri, "v1") });

    private async Task<(JsonNode Body, HttpStatusCode Status)> PostAsync(string path, JsonObject body)
    {
        body["model"] = TestServer.Model;
        var response = await fixture.Server.Http.PostAsJsonAsync(path, body);
        return (JsonNode.Parse(await response.Content.ReadAsStringAsync())!, response.StatusCode);
    }

    private static JsonObject Chat(string user, int maxTokens, long seed) => new()
    {
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = user }),
        ["max_tokens"] = maxTokens,
        ["temperature"] = 1.0,
        ["seed"] = seed,
    };

    /// <summary>NJsonSchema as the independent validator (the document must also be strict JSON).</summary>
    private static void AssertValid(string schema, string document)
    {
        JsonDocument.Parse(document).Dispose();
        var errors = NJsonSchema.JsonSchema.FromJsonAsync(schema).GetAwaiter().GetResult().Validate(document);
        Assert.True(errors.Count == 0, $"{document} is not valid: {string.Join("; ", errors)}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task The_OpenAI_client_json_schema_format_gives_valid_documents(int seed)
    {
        var chat = Client().GetChatClient(TestServer.Model);
        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("Describe a person.")], new ChatCompletionOptions
        {
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("person", BinaryData.FromString(PersonSchema), jsonSchemaIsStrict: true),
            MaxOutputTokenCount = 1000, Temperature = 1f,
#pragma warning disable OPENAI001
            Seed = seed,
#pragma warning restore OPENAI001
        });
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        AssertValid(PersonSchema, completion.Content[0].Text);
    }

    [Fact]
    public async Task Json_object_mode_gives_an_object_and_a_cut_document_finishes_with_length()
    {
        var body = Chat("JSON please", 300, 7);
        body["response_format"] = new JsonObject { ["type"] = "json_object" };
        var (json, status) = await PostAsync("v1/chat/completions", body);
        Assert.Equal(HttpStatusCode.OK, status);
        string text = (string)json["choices"]![0]!["message"]!["content"]!;
        string finish = (string)json["choices"]![0]!["finish_reason"]!;
        if (finish == "stop") Assert.IsType<JsonObject>(JsonNode.Parse(text));
        else Assert.Equal("length", finish);

        body = Chat("JSON please", 3, 7);
        body["response_format"] = new JsonObject { ["type"] = "json_object" };
        (json, _) = await PostAsync("v1/chat/completions", body);
        Assert.Equal("length", (string)json["choices"]![0]!["finish_reason"]!);
        Assert.StartsWith("{", (string)json["choices"]![0]!["message"]!["content"]!);
    }

    [Theory]
    [InlineData("guided_choice")]
    [InlineData("structured_outputs.choice")]
    public async Task Choices_give_exactly_one_of_them(string field)
    {
        string[] choices = ["positive", "negative", "neutral 😐"];
        for (int seed = 0; seed < 4; seed++)
        {
            var body = Chat("Sentiment?", 20, seed);
            var list = new JsonArray([.. choices.Select(c => (JsonNode)c)]);
            if (field == "guided_choice") body["guided_choice"] = list;
            else body["structured_outputs"] = new JsonObject { ["choice"] = list };
            var (json, status) = await PostAsync("v1/chat/completions", body);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Contains((string)json["choices"]![0]!["message"]!["content"]!, choices);
            Assert.Equal("stop", (string)json["choices"]![0]!["finish_reason"]!);
        }
    }

    [Fact]
    public async Task A_regex_and_a_gbnf_grammar_constrain_completions_too()
    {
        const string pattern = @"\(\d{3}\) \d{3}-\d{4}";
        for (int seed = 0; seed < 3; seed++)
        {
            var (json, status) = await PostAsync("v1/completions", new JsonObject
            {
                ["prompt"] = "Call me at", ["max_tokens"] = 30, ["temperature"] = 1.0, ["seed"] = seed, ["guided_regex"] = pattern,
            });
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Matches("^" + pattern + "$", (string)json["choices"]![0]!["text"]!);

            (json, status) = await PostAsync("v1/completions", new JsonObject
            {
                ["prompt"] = "Answer:", ["max_tokens"] = 30, ["temperature"] = 1.0, ["seed"] = seed,
                ["grammar"] = "root ::= (\"yes\" | \"no\") \", \" [0-9]{1,2}",
            });
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Matches("^(yes|no), [0-9]{1,2}$", (string)json["choices"]![0]!["text"]!);
        }
    }

    [Fact]
    public async Task Ollama_format_takes_a_schema_and_json()
    {
        var client = new OllamaApiClient(new HttpClient { BaseAddress = fixture.Server.BaseUri }, TestServer.Model);
        var text = new System.Text.StringBuilder();
        await foreach (var chunk in client.GenerateAsync(new OllamaSharp.Models.GenerateRequest
        {
            Prompt = "A person:", Format = JsonDocument.Parse(PersonSchema).RootElement,
            Options = new OllamaSharp.Models.RequestOptions { NumPredict = 1000, Temperature = 1f, Seed = 5 },
        }))
            text.Append(chunk?.Response);
        AssertValid(PersonSchema, text.ToString());

        var (json, status) = await PostAsync("api/chat", new JsonObject
        {
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "json" }),
            ["format"] = "json", ["stream"] = false, ["options"] = new JsonObject { ["num_predict"] = 300, ["seed"] = 3 },
        });
        Assert.Equal(HttpStatusCode.OK, status);
        if ((string?)json["done_reason"] == "stop") Assert.IsType<JsonObject>(JsonNode.Parse((string)json["message"]!["content"]!));
    }

    [Fact]
    public async Task Ollama_schemas_with_null_keys_and_no_additionalProperties_are_read_as_closed_objects()
    {
        // OllamaSharp's shape: null-valued keys, no additionalProperties (read as false, as llama.cpp and xgrammar do).
        var format = JsonNode.Parse("""{"type": "object", "title": null, "properties": {"ok": {"type": "boolean", "description": null, "enum": null}}, "required": ["ok"]}""");
        for (int seed = 0; seed < 3; seed++)
        {
            var (json, status) = await PostAsync("api/generate", new JsonObject
            {
                ["prompt"] = "ok?", ["format"] = format!.DeepClone(), ["stream"] = false, ["options"] = new JsonObject { ["num_predict"] = 200, ["seed"] = seed },
            });
            Assert.Equal(HttpStatusCode.OK, status);
            var document = JsonNode.Parse((string)json["response"]!)!.AsObject();
            Assert.Equal(["ok"], document.Select(p => p.Key));
            Assert.Contains(document["ok"]!.GetValueKind(), new[] { JsonValueKind.True, JsonValueKind.False });
        }
    }

    [Theory]
    [InlineData("""{"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "patternProperties": {"a": {}}}}}}""", "patternProperties", "response_format.json_schema.schema")]
    [InlineData("""{"guided_json": {"type": "string", "format": "email"}}""", "format", "guided_json")]
    [InlineData("""{"guided_regex": "(a)\\1"}""", "", "guided_regex")]
    [InlineData("""{"grammar": "root ::= missing"}""", "missing", "grammar")]
    [InlineData("""{"guided_choice": ["a"], "guided_regex": "b"}""", "Only one kind", "guided_choice")]
    [InlineData("""{"response_format": {"type": "xml"}}""", "xml", "response_format.type")]
    public async Task Unusable_constraints_are_400s_naming_the_field(string fields, string mentioned, string param)
    {
        var body = JsonNode.Parse(fields)!.AsObject();
        body["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" });
        body["max_tokens"] = 5;
        var (json, status) = await PostAsync("v1/chat/completions", body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(param, (string?)json["error"]!["param"]);
        Assert.Contains(mentioned, (string)json["error"]!["message"]!);
    }
}
