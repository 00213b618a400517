using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using QwenSharp.Server.Backend;
using QwenSharp.Text.ToolCalls;

namespace QwenSharp.Server.OpenAi;

/// <summary>POST /v1/chat/completions: OpenAI's chat API with vLLM's extra sampling fields.</summary>
public static class ChatCompletionsEndpoint
{
    public static async Task HandleAsync(HttpContext http, ServingContext ctx)
    {
        var clock = Stopwatch.StartNew();
        using var doc = await RequestBody.ReadAsync(http);
        var f = new RequestFields(doc.RootElement);

        string model = ctx.ResolveModel(f.String("model"));
        string messages = ChatMessages.Normalize(f.Raw("messages"));
        bool stream = f.Bool("stream") ?? false;
        bool includeUsage = StreamOptions.Read(f, stream);
        var sampling = SamplingRequest.Read(f, chat: true);
        var toolRequest = ToolRequest.Read(f);
        string? tools = toolRequest?.TemplateJson;
        if (toolRequest is not null) sampling = sampling with { Output = toolRequest.Constraint(sampling.Output) };
        bool parseTools = toolRequest?.CallsTools == true;
        if (f.Bool("echo") == true)
            throw ApiException.BadRequest("'echo' is not supported for chat completions.", "echo");
        if (f.Bool("continue_final_message") == true)
            throw ApiException.BadRequest("'continue_final_message' is not supported: QwenSharp always starts a new assistant turn.", "continue_final_message");
        bool addGenerationPrompt = f.Bool("add_generation_prompt") ?? true;
        var templateVars = ReadTemplateVariables(f);
        f.RejectUnread();
        ctx.NoteIgnored(f);

        string prompt = ctx.Guard(b => b.RenderChat(messages, tools, addGenerationPrompt, templateVars));
        int[] ids = ctx.Guard(b => b.Tokenize(prompt));
        int maxTokens = ctx.ResolveMaxTokens(ids.Length, sampling.MaxTokens, "messages", sampling.MaxTokensParam);
        string id = "chatcmpl-" + RequestIds.From(http);
        var requests = Enumerable.Range(0, sampling.N).Select(i => sampling.ToBackend($"{id}-{i}", ids, maxTokens, i)).ToList();
        ctx.Validate(requests[0]);
        using var place = ctx.Gate.Enter(); // before the response starts: a full server answers 429

        var log = new RequestLog(ctx, id, "/v1/chat/completions", clock);
        // Disposed with the request: a registration left on the server-lifetime token would leak per request.
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, ctx.Stopping);
        var ct = linked.Token;
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        bool wantLogprobs = sampling.Logprobs != null;
        if (stream) await StreamAsync(http, ctx, requests, id, model, created, includeUsage, wantLogprobs, parseTools, log, ct);
        else await WholeAsync(http, ctx, requests, id, model, created, wantLogprobs, parseTools, log, ct);
    }

    private static async Task WholeAsync(HttpContext http, ServingContext ctx, List<BackendRequest> requests, string id,
        string model, long created, bool wantLogprobs, bool parseTools, RequestLog log, CancellationToken ct)
    {
        var texts = requests.Select(_ => new StringBuilder()).ToArray();
        var choices = requests.Select((_, i) => new ChatChoice
        {
            Index = i,
            Message = new ChatMessageOut { Role = "assistant" },
            Logprobs = wantLogprobs ? new ChatLogprobs() : null,
        }).ToList();
        var finishes = new GenerationFinished?[requests.Count];
        await foreach (var (choice, ev) in GenerationRun.RunAsync(ctx, requests, ct))
        {
            if (ev is TokenDelta d)
            {
                texts[choice].Append(d.Text);
                log.Token();
                if (d.Logprob != null) choices[choice].Logprobs?.Content.Add(LogprobShapes.Chat(d.Logprob));
            }
            else if (ev is GenerationFinished fin)
            {
                finishes[choice] = fin;
                choices[choice].FinishReason = fin.Reason;
                choices[choice].StopReason = fin.StopReason?.DeepClone();
            }
        }
        for (int i = 0; i < choices.Count; i++)
        {
            string text = texts[i].ToString();
            if (!parseTools) choices[i].Message.Content = text;
            else (choices[i].Message.Content, choices[i].Message.ToolCalls, choices[i].FinishReason) = ToolReply(text, choices[i].FinishReason);
        }
        var usage = RequestLog.Usage(finishes, promptsShared: true);
        var response = new ChatCompletionResponse
        {
            Id = id, Created = created, Model = model, Choices = choices, Usage = usage,
            SamplingParams = finishes[0]?.SamplingParams.DeepClone().AsObject(),
        };
        log.Finish(usage, finishes);
        await http.Response.WriteAsJsonAsync(response, ServerJsonContext.Wire.ChatCompletionResponse, cancellationToken: ct);
    }

    private static async Task StreamAsync(HttpContext http, ServingContext ctx, List<BackendRequest> requests, string id,
        string model, long created, bool includeUsage, bool wantLogprobs, bool parseTools, RequestLog log, CancellationToken ct)
    {
        var sse = new SseWriter(http.Response);
        var splitters = requests.Select(_ => parseTools ? new ToolCallStreamSplitter() : null).ToArray();
        sse.Start();
        var finishes = new GenerationFinished?[requests.Count];
        await StreamErrors.GuardAsync(http, ctx, sse, async () =>
        {
            // vLLM opens every choice with the assistant role and empty content before any token.
            for (int i = 0; i < requests.Count; i++)
                await sse.WriteAsync(Chunk(id, created, model, new ChatChunkChoice
                {
                    Index = i, Delta = new ChatDelta { Role = "assistant", Content = "" },
                }), ServerJsonContext.Wire.ChatCompletionChunk, ct);

            await foreach (var (choice, ev) in GenerationRun.RunAsync(ctx, requests, ct))
            {
                if (ev is TokenDelta d)
                {
                    log.Token();
                    var logprobs = wantLogprobs && d.Logprob != null ? new ChatLogprobs { Content = [LogprobShapes.Chat(d.Logprob)] } : null;
                    if (splitters[choice] is { } splitter)
                    {
                        await WriteToolEventsAsync(sse, id, created, model, choice, splitter.Push(d.Text), logprobs, ct);
                        continue;
                    }
                    if (d.Text.Length == 0 && !wantLogprobs) continue; // held back (partial UTF-8 or a possible stop string)
                    await sse.WriteAsync(Chunk(id, created, model, new ChatChunkChoice
                    {
                        Index = choice,
                        Delta = new ChatDelta { Content = d.Text },
                        Logprobs = logprobs,
                    }), ServerJsonContext.Wire.ChatCompletionChunk, ct);
                }
                else if (ev is GenerationFinished fin)
                {
                    finishes[choice] = fin;
                    string reason = fin.Reason;
                    if (splitters[choice] is { } splitter)
                    {
                        var end = splitter.Finish();
                        await WriteToolEventsAsync(sse, id, created, model, choice, WithoutCutCall(end.Events), null, ct);
                        if (end.Final.Calls.Count > 0 && reason == "stop") reason = "tool_calls";
                    }
                    var chunk = Chunk(id, created, model, new ChatChunkChoice
                    {
                        Index = choice, Delta = new ChatDelta(), FinishReason = reason, StopReason = fin.StopReason?.DeepClone(),
                    }, fin.SamplingParams.DeepClone().AsObject());
                    await sse.WriteAsync(chunk, ServerJsonContext.Wire.ChatCompletionChunk, ct);
                }
            }
            var usage = RequestLog.Usage(finishes, promptsShared: true);
            if (includeUsage)
                await sse.WriteAsync(new ChatCompletionChunk { Id = id, Created = created, Model = model, Choices = [], Usage = usage },
                    ServerJsonContext.Wire.ChatCompletionChunk, ct);
            log.Finish(usage, finishes);
            await sse.DoneAsync(ct);
        });
    }

    private static ChatCompletionChunk Chunk(string id, long created, string model, ChatChunkChoice choice,
        System.Text.Json.Nodes.JsonObject? samplingParams = null) =>
        new() { Id = id, Created = created, Model = model, Choices = [choice], SamplingParams = samplingParams };

    /// <summary>
    /// A finished reply of a request with tools: its text before the first call, the calls (OpenAI's shape) and
    /// "tool_calls" as the finish reason when it stopped after calling. The grammar made every call whole; a reply
    /// cut by max_tokens inside a call keeps only the text before it (the markup never reaches the content).
    /// </summary>
    private static (string? Content, List<ToolCallOut>? Calls, string? Finish) ToolReply(string text, string? finish)
    {
        var parse = QwenSharp.Text.ToolCalls.ToolReply.Read(text);
        if (parse.Calls.Count == 0) return (parse.Content ?? "", null, finish);
        var calls = parse.Calls.Select(c => new ToolCallOut { Id = c.Id, Function = new FunctionCallOut { Name = c.Name, Arguments = c.Arguments } }).ToList();
        return (parse.Content, calls, finish == "stop" ? "tool_calls" : finish);
    }

    /// <summary>
    /// The last events of a reply: a call cut by max_tokens before it could start streaming comes back from the
    /// splitter as content; only the text before its tag is kept, so the markup never reaches the content.
    /// </summary>
    internal static IReadOnlyList<ToolCallStreamEvent> WithoutCutCall(IReadOnlyList<ToolCallStreamEvent> events)
    {
        var kept = new List<ToolCallStreamEvent>();
        foreach (var e in events)
        {
            if (e is ContentDelta c && c.Text.IndexOf(ToolCallParser.StartTag, StringComparison.Ordinal) is int open and >= 0)
            {
                if (open > 0) kept.Add(new ContentDelta(c.Text[..open]));
                break;
            }
            kept.Add(e);
        }
        return kept;
    }

    /// <summary>The splitter's events as OpenAI chunks: content deltas, then per call its opening (index, id, type,
    /// name) and its argument fragments. Logprobs ride on the first chunk of the token, or alone when it has none.</summary>
    private static async Task WriteToolEventsAsync(SseWriter sse, string id, long created, string model, int choice,
        IReadOnlyList<ToolCallStreamEvent> events, ChatLogprobs? logprobs, CancellationToken ct)
    {
        if (events.Count == 0 && logprobs != null)
            await sse.WriteAsync(Chunk(id, created, model, new ChatChunkChoice { Index = choice, Delta = new ChatDelta { Content = "" }, Logprobs = logprobs }),
                ServerJsonContext.Wire.ChatCompletionChunk, ct);
        foreach (var e in events)
        {
            var delta = e switch
            {
                ContentDelta c => new ChatDelta { Content = c.Text },
                ToolCallStarted s => new ChatDelta
                {
                    ToolCalls = [new ToolCallDelta { Index = s.Index, Id = s.Id, Type = s.Type, Function = new FunctionCallDelta { Name = s.Name, Arguments = "" } }],
                },
                ToolCallArgumentsDelta a => new ChatDelta { ToolCalls = [new ToolCallDelta { Index = a.Index, Function = new FunctionCallDelta { Arguments = a.Fragment } }] },
                _ => null,
            };
            if (delta is null) continue;
            await sse.WriteAsync(Chunk(id, created, model, new ChatChunkChoice { Index = choice, Delta = delta, Logprobs = logprobs }),
                ServerJsonContext.Wire.ChatCompletionChunk, ct);
            logprobs = null;
        }
    }

    /// <summary>vLLM's chat_template_kwargs: extra variables for the template (e.g. enable_thinking).</summary>
    private static Dictionary<string, JsonElement>? ReadTemplateVariables(RequestFields f)
    {
        if (f.Raw("chat_template_kwargs") is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Object) throw f.TypeError("chat_template_kwargs", "an object", v);
        return v.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal);
    }
}
