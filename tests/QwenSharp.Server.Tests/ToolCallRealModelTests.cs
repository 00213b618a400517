using System.ComponentModel;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace QwenSharp.Server.Tests;

/// <summary>
/// Tool calls constrained by the real engine on random weights: under "required" or a named function every reply
/// is a well-formed call of a declared tool with arguments valid against its parameters (NJsonSchema), streamed
/// or whole; under "auto" the markup never reaches the content; Microsoft.Extensions.AI's function invocation runs
/// a whole tool loop on <see cref="QwenChatClient"/>. Parameters are bounded (enums, integers, short strings) so any
/// weights finish a call within the token budget.
/// </summary>
public sealed class ToolCallRealModelTests(RealModelFixture fixture) : IClassFixture<RealModelFixture>
{
    private const string WeatherParameters = """{"type": "object", "properties": {"city": {"type": "string", "maxLength": 10}, "unit": {"enum": ["c", "f"]}, "days": {"type": "integer", "minimum": 1, "maximum": 7}}, "required": ["city", "unit", "days"], "additionalProperties": false}""";
    private const string AlarmParameters = """{"type": "object", "properties": {"hour": {"type": "integer", "minimum": 0, "maximum": 23}, "loud": {"type": "boolean"}}, "required": ["hour", "loud"], "additionalProperties": false}""";

    private static JsonArray Tools() => new(
        new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "get_weather", ["parameters"] = JsonNode.Parse(WeatherParameters) } },
        new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "set_alarm", ["parameters"] = JsonNode.Parse(AlarmParameters) } });

    private async Task<JsonNode> ChatAsync(JsonNode toolChoice, long seed, bool parallel = false)
    {
        var body = new JsonObject
        {
            ["model"] = TestServer.Model, ["max_tokens"] = 600, ["temperature"] = 1.0, ["seed"] = seed,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Weather in Paris, then wake me at 7." }),
            ["tools"] = Tools(), ["tool_choice"] = toolChoice, ["parallel_tool_calls"] = parallel,
        };
        var response = await fixture.Server.Http.PostAsJsonAsync("v1/chat/completions", body);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, json.ToJsonString());
        return json["choices"]![0]!;
    }

    private static void AssertValidCall(JsonNode call, params string[] names)
    {
        string name = (string)call["function"]!["name"]!;
        Assert.Contains(name, names);
        string arguments = (string)call["function"]!["arguments"]!;
        var schema = NJsonSchema.JsonSchema.FromJsonAsync(name == "get_weather" ? WeatherParameters : AlarmParameters).GetAwaiter().GetResult();
        var errors = schema.Validate(arguments);
        Assert.True(errors.Count == 0, $"{name}({arguments}): {string.Join("; ", errors)}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Required_gives_valid_calls_of_declared_tools(long seed)
    {
        var choice = await ChatAsync("required", seed);
        Assert.Equal("tool_calls", (string?)choice["finish_reason"]);
        var calls = choice["message"]!["tool_calls"]!.AsArray();
        Assert.NotEmpty(calls);
        foreach (var call in calls) AssertValidCall(call!, "get_weather", "set_alarm");
        Assert.True(choice["message"]!["content"] is null || !((string)choice["message"]!["content"]!).Contains("<tool_call>"));
    }

    [Fact]
    public async Task Parallel_calls_are_each_valid_and_a_cut_keeps_the_whole_ones()
    {
        for (int seed = 0; seed < 3; seed++)
        {
            var choice = await ChatAsync("required", 100 + seed, parallel: true);
            string finish = (string)choice["finish_reason"]!;
            Assert.Contains(finish, new[] { "tool_calls", "length" });
            foreach (var call in choice["message"]!["tool_calls"]?.AsArray() ?? []) AssertValidCall(call!, "get_weather", "set_alarm");
            Assert.True(choice["message"]!["content"] is null);
        }
    }

    [Fact]
    public async Task With_a_response_format_the_reply_is_that_document_or_calls()
    {
        const string answer = """{"type": "object", "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer", "minimum": 0, "maximum": 99}}, "required": ["ok", "n"], "additionalProperties": false}""";
        for (int seed = 0; seed < 4; seed++)
        {
            var body = new JsonObject
            {
                ["model"] = TestServer.Model, ["max_tokens"] = 600, ["temperature"] = 1.0, ["seed"] = seed,
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Check it." }),
                ["tools"] = Tools(), ["parallel_tool_calls"] = false,
                ["response_format"] = new JsonObject { ["type"] = "json_schema", ["json_schema"] = new JsonObject { ["name"] = "answer", ["schema"] = JsonNode.Parse(answer) } },
            };
            var response = await fixture.Server.Http.PostAsJsonAsync("v1/chat/completions", body);
            var choice = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["choices"]![0]!;
            if ((string?)choice["finish_reason"] == "tool_calls")
                AssertValidCall(Assert.Single(choice["message"]!["tool_calls"]!.AsArray())!, "get_weather", "set_alarm");
            else if ((string?)choice["finish_reason"] == "stop")
            {
                var errors = (await NJsonSchema.JsonSchema.FromJsonAsync(answer)).Validate((string)choice["message"]!["content"]!);
                Assert.Empty(errors);
            }
        }
    }

    [Fact]
    public async Task A_named_function_is_called_exactly_once()
    {
        for (int seed = 0; seed < 3; seed++)
        {
            var choice = await ChatAsync(new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "set_alarm" } }, seed);
            Assert.Equal("tool_calls", (string?)choice["finish_reason"]);
            AssertValidCall(Assert.Single(choice["message"]!["tool_calls"]!.AsArray())!, "set_alarm");
        }
    }

    [Fact]
    public async Task Auto_never_leaks_markup_and_any_call_is_valid()
    {
        for (int seed = 0; seed < 3; seed++)
        {
            var choice = await ChatAsync("auto", seed);
            Assert.DoesNotContain("<tool_call>", (string?)choice["message"]!["content"] ?? "");
            foreach (var call in choice["message"]!["tool_calls"]?.AsArray() ?? []) AssertValidCall(call!, "get_weather", "set_alarm");
        }
    }

    [Fact]
    public async Task Streamed_calls_equal_the_whole_reply_for_the_same_seed()
    {
        var whole = await ChatAsync("required", 11);
        var body = new JsonObject
        {
            ["model"] = TestServer.Model, ["max_tokens"] = 600, ["temperature"] = 1.0, ["seed"] = 11, ["stream"] = true,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Weather in Paris, then wake me at 7." }),
            ["tools"] = Tools(), ["tool_choice"] = "required", ["parallel_tool_calls"] = false,
        };
        var (events, _, _) = await HttpApi.PostSseAsync(fixture.Server.Http, "v1/chat/completions", body.ToJsonString());
        var streamed = new SortedDictionary<int, (string Name, StringBuilder Args)>();
        string? finish = null;
        foreach (var e in events.Where(e => e != "[DONE]"))
        {
            var choice = HttpApi.Json(e)["choices"]!.AsArray().FirstOrDefault();
            if (choice is null) continue;
            finish ??= (string?)choice["finish_reason"];
            Assert.True(string.IsNullOrEmpty((string?)choice["delta"]!["content"]));
            foreach (var call in choice["delta"]!["tool_calls"]?.AsArray() ?? [])
            {
                int index = (int)call!["index"]!;
                if ((string?)call["function"]!["name"] is { } name) streamed[index] = (name, new StringBuilder());
                streamed[index].Args.Append((string?)call["function"]!["arguments"]);
            }
        }
        Assert.Equal("tool_calls", finish);
        Assert.Equal(whole["message"]!["tool_calls"]!.AsArray().Select(c => ((string)c!["function"]!["name"]!, (string)c["function"]!["arguments"]!)),
            streamed.Values.Select(v => (v.Name, v.Args.ToString())));
    }

    private enum Unit { C, F }

    [Fact]
    public async Task Function_invocation_runs_a_tool_loop_on_QwenChatClient()
    {
        int calls = 0;
        [Description("Gets the weather")]
        string GetWeather([Description("Temperature unit")] Unit unit, [Description("Days ahead")] bool tomorrow)
        {
            calls++;
            return $"sunny, 21 degrees {unit}";
        }
        using var inner = new QwenChatClient(fixture.Model);
        var client = new ChatClientBuilder(inner).UseFunctionInvocation().Build();
        var options = new ChatOptions
        {
            Tools = [AIFunctionFactory.Create(GetWeather, "get_weather")],
            ToolMode = ChatToolMode.RequireSpecific("get_weather"),
            Temperature = 1f, Seed = 5, MaxOutputTokens = 300, AllowMultipleToolCalls = false,
        };
        var response = await client.GetResponseAsync("What is the weather?", options);
        Assert.True(calls >= 1);
        // The history the loop built: the call, its result as a tool message, then the model's answer.
        Assert.Contains(response.Messages, m => m.Contents.OfType<FunctionCallContent>().Any(c => c.Name == "get_weather"));
        Assert.Contains(response.Messages, m => m.Contents.OfType<FunctionResultContent>().Any(r => r.Result?.ToString()?.Contains("sunny") == true));
    }
}
