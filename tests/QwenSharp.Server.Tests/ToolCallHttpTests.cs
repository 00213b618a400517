using System.ClientModel;
using System.Text;
using System.Text.Json.Nodes;
using OllamaSharp;
using OpenAI;
using OpenAI.Chat;
using static QwenSharp.Server.Tests.HttpApi;

namespace QwenSharp.Server.Tests;

/// <summary>
/// How the server answers a reply that holds tool calls, with a scripted reply: the fake backend echoes its prompt,
/// so a user message holding Qwen's call markup, echoed from its first character (seed = the length of the
/// "&lt;|im_start|&gt;user\n" opener) and stopped at "&lt;|im_end|&gt;", is exactly the reply a model writing that call
/// would give, streamed one character per token — every split of the markup happens somewhere.
/// </summary>
[Collection(SharedServerCollection.Name)]
public sealed class ToolCallHttpTests(SharedServer shared)
{
    private const int Opener = 17; // "<|im_start|>user\n"
    private const string Weather = """{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}}, "required": ["city"]}}}""";
    private const string Time = """{"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}}}""";
    private const string Script = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"c\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": \"CET\"}}\n</tool_call>";

    private static string Body(string content, bool stream, string extra = "") =>
        $$"""{"model":"{{TestServer.Model}}","messages":[{"role":"user","content":{{Escape(content)}}}],"tools":[{{Weather}},{{Time}}],"seed":{{Opener}},"stop":["<|im_end|>"],"max_tokens":400,"stream":{{(stream ? "true" : "false")}}{{extra}}}""";

    [Fact]
    public async Task A_reply_with_calls_comes_back_as_tool_calls_with_the_markup_removed()
    {
        var (status, body) = await PostAsync(shared.Server.Http, "v1/chat/completions", Body(Script, false));
        Assert.Equal(200, status);
        var choice = body!["choices"]![0]!;
        Assert.Equal("tool_calls", (string?)choice["finish_reason"]);
        Assert.Equal("Let me check.\n", (string?)choice["message"]!["content"]);
        var calls = choice["message"]!["tool_calls"]!.AsArray();
        Assert.Equal(2, calls.Count);
        Assert.Equal("get_weather", (string?)calls[0]!["function"]!["name"]);
        Assert.Equal("""{"city": "Paris", "unit": "c"}""", (string?)calls[0]!["function"]!["arguments"]);
        Assert.Equal("function", (string?)calls[0]!["type"]);
        Assert.Matches("^call_[A-Za-z0-9]{24}$", (string?)calls[0]!["id"]);
        Assert.Equal("get_time", (string?)calls[1]!["function"]!["name"]);
    }

    [Fact]
    public async Task Streaming_sends_openai_tool_call_deltas_and_no_markup_in_content()
    {
        var (events, _, _) = await PostSseAsync(shared.Server.Http, "v1/chat/completions", Body(Script, true));
        var content = new StringBuilder();
        var names = new Dictionary<int, string>();
        var arguments = new Dictionary<int, StringBuilder>();
        string? finish = null;
        foreach (var e in events.Where(e => e != "[DONE]"))
        {
            var choice = Json(e)["choices"]!.AsArray().FirstOrDefault();
            if (choice is null) continue;
            finish ??= (string?)choice["finish_reason"];
            var delta = choice["delta"]!;
            if ((string?)delta["content"] is { } c)
            {
                Assert.DoesNotContain("<", c); // no piece of either tag ever reaches content
                content.Append(c);
            }
            foreach (var call in delta["tool_calls"]?.AsArray() ?? [])
            {
                int index = (int)call!["index"]!;
                if ((string?)call["function"]!["name"] is { } name)
                {
                    Assert.Matches("^call_", (string?)call["id"]);
                    Assert.Equal("function", (string?)call["type"]);
                    names[index] = name;
                    arguments[index] = new StringBuilder();
                }
                arguments[index].Append((string?)call["function"]!["arguments"]);
            }
        }
        Assert.Equal("Let me check.\n", content.ToString());
        Assert.Equal("tool_calls", finish);
        Assert.Equal(["get_weather", "get_time"], names.OrderBy(k => k.Key).Select(k => k.Value));
        Assert.Equal("""{"city": "Paris", "unit": "c"}""", arguments[0].ToString());
        Assert.Equal("""{"zone": "CET"}""", arguments[1].ToString());
    }

    [Fact]
    public async Task The_OpenAI_client_reads_calls_whole_and_streamed()
    {
        var chat = new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(shared.Server.BaseUri, "v1") })
            .GetChatClient(TestServer.Model);
        var options = new ChatCompletionOptions
        {
            Tools = { ChatTool.CreateFunctionTool("get_weather", "Weather in a city", BinaryData.FromString("""{"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}}, "required": ["city"]}""")) },
            StopSequences = { "<|im_end|>" }, MaxOutputTokenCount = 400,
#pragma warning disable OPENAI001
            Seed = Opener,
#pragma warning restore OPENAI001
        };
        options.Tools.Add(ChatTool.CreateFunctionTool("get_time", null, BinaryData.FromString("""{"type": "object", "properties": {"zone": {"type": "string"}}}""")));
        ChatCompletion whole = await chat.CompleteChatAsync([new UserChatMessage(Script)], options);
        Assert.Equal(ChatFinishReason.ToolCalls, whole.FinishReason);
        Assert.Equal(["get_weather", "get_time"], whole.ToolCalls.Select(c => c.FunctionName));
        Assert.Equal("Paris", JsonNode.Parse(whole.ToolCalls[0].FunctionArguments.ToString())!["city"]!.GetValue<string>());

        var streamed = new Dictionary<int, (string Name, StringBuilder Args)>();
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage(Script)], options))
            foreach (var part in update.ToolCallUpdates)
            {
                if (part.FunctionName != null) streamed[part.Index] = (part.FunctionName, new StringBuilder());
                streamed[part.Index].Args.Append(part.FunctionArgumentsUpdate?.ToString());
            }
        Assert.Equal(whole.ToolCalls.Select(c => (c.FunctionName, c.FunctionArguments.ToString())),
            streamed.OrderBy(k => k.Key).Select(k => (k.Value.Name, k.Value.Args.ToString())));
    }

    [Fact]
    public async Task Ollama_chat_returns_calls_with_object_arguments()
    {
        var client = new OllamaApiClient(new HttpClient { BaseAddress = shared.Server.BaseUri }, TestServer.Model);
        var tool = new OllamaSharp.Models.Chat.Tool
        {
            Function = new OllamaSharp.Models.Chat.Function
            {
                Name = "get_weather", Description = "Weather in a city",
                Parameters = new OllamaSharp.Models.Chat.Parameters
                {
                    Properties = new Dictionary<string, OllamaSharp.Models.Chat.Property> { ["city"] = new() { Type = "string" } },
                    Required = ["city"],
                },
            },
        };
        string script = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>";
        foreach (bool stream in new[] { true, false })
        {
            var text = new StringBuilder();
            var calls = new List<OllamaSharp.Models.Chat.Message.ToolCall>();
            await foreach (var chunk in client.ChatAsync(new OllamaSharp.Models.Chat.ChatRequest
            {
                Messages = [new OllamaSharp.Models.Chat.Message(OllamaSharp.Models.Chat.ChatRole.User, script)],
                Tools = [tool], Stream = stream,
                Options = new OllamaSharp.Models.RequestOptions { Seed = Opener, Stop = ["<|im_end|>"], NumPredict = 300 },
            }))
            {
                text.Append(chunk?.Message?.Content);
                calls.AddRange(chunk?.Message?.ToolCalls ?? []);
            }
            Assert.Equal("", text.ToString());
            var call = Assert.Single(calls);
            Assert.Equal("get_weather", call.Function!.Name);
            Assert.Equal("Oslo", call.Function.Arguments!["city"]!.ToString());
        }
    }

    [Theory]
    [InlineData(""","tool_choice":"sometimes" """, "tool_choice")]
    [InlineData(""","tool_choice":{"type":"function","function":{"name":"nope"}} """, "tool_choice.function.name")]
    [InlineData(""","tools":[{"type":"function","function":{"name":"bad name"}}] """, "tools[0].function.name")]
    [InlineData(""","tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g","parameters":{"type":"object","patternProperties":{"x":{}}}}}] """, "tools[1].function.parameters")]
    [InlineData(""","grammar":"root ::= \"x\"" """, "grammar")]
    public async Task Bad_tool_requests_are_400s_naming_the_field(string extra, string param)
    {
        string body = extra.Contains("\"tools\"", StringComparison.Ordinal)
            ? $$"""{"model":"{{TestServer.Model}}","messages":[{"role":"user","content":"hi"}]{{extra}}}"""
            : Body("hi", false, extra);
        var (status, json) = await PostAsync(shared.Server.Http, "v1/chat/completions", body);
        Assert.Equal(400, status);
        Assert.Equal(param, (string?)json!["error"]!["param"]);
    }
}
