using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using QwenSharp.Server.Backend;

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
        string? tools = ReadTools(f);
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
        if (stream) await StreamAsync(http, ctx, requests, id, model, created, includeUsage, wantLogprobs, log, ct);
        else await WholeAsync(http, ctx, requests, id, model, created, wantLogprobs, log, ct);
    }

    private static async Task WholeAsync(HttpContext http, ServingContext ctx, List<BackendRequest> requests, string id,
        string model, long created, bool wantLogprobs, RequestLog log, CancellationToken ct)
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
        for (int i = 0; i < choices.Count; i++) choices[i].Message.Content = texts[i].ToString();
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
        string model, long created, bool includeUsage, bool wantLogprobs, RequestLog log, CancellationToken ct)
    {
        var sse = new SseWriter(http.Response);
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
                    if (d.Text.Length == 0 && !wantLogprobs) continue; // held back (partial UTF-8 or a possible stop string)
                    await sse.WriteAsync(Chunk(id, created, model, new ChatChunkChoice
                    {
                        Index = choice,
                        Delta = new ChatDelta { Content = d.Text },
                        Logprobs = wantLogprobs && d.Logprob != null ? new ChatLogprobs { Content = [LogprobShapes.Chat(d.Logprob)] } : null,
                    }), ServerJsonContext.Wire.ChatCompletionChunk, ct);
                }
                else if (ev is GenerationFinished fin)
                {
                    finishes[choice] = fin;
                    var chunk = Chunk(id, created, model, new ChatChunkChoice
                    {
                        Index = choice, Delta = new ChatDelta(), FinishReason = fin.Reason, StopReason = fin.StopReason?.DeepClone(),
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
    /// Tools are rendered into the prompt by the chat template, but QwenSharp has no tool-call parser, so only
    /// tool_choice "none" can be honoured; "auto", "required" and named tools are refused (vLLM likewise refuses
    /// "auto" unless started with --enable-auto-tool-choice).
    /// </summary>
    private static string? ReadTools(RequestFields f)
    {
        var tools = f.Raw("tools");
        var choice = f.Raw("tool_choice");
        f.Bool("parallel_tool_calls");
        if (tools is { } t && t.ValueKind != JsonValueKind.Array)
            throw f.TypeError("tools", "an array of tools", t);
        bool none = choice is { ValueKind: JsonValueKind.String } c && c.GetString() == "none";
        if (choice is { } ch && !none)
        {
            string what = ch.ValueKind == JsonValueKind.String ? $"\"{ch.GetString()}\"" : "a named tool";
            if (tools != null || ch.ValueKind != JsonValueKind.String || ch.GetString() != "auto")
                throw ApiException.BadRequest($"'tool_choice' {what} is not supported: QwenSharp has no tool-call parser; send tool_choice \"none\" to show the tools to the model without parsing calls.", "tool_choice");
        }
        if (tools != null && !none)
            throw ApiException.BadRequest("'tools' need a tool-call parser, which QwenSharp does not have: with the default tool_choice \"auto\" calls would come back as plain text. Send tool_choice \"none\" to show the tools to the model anyway.", "tools");
        return tools?.GetRawText();
    }

    /// <summary>vLLM's chat_template_kwargs: extra variables for the template (e.g. enable_thinking).</summary>
    private static Dictionary<string, JsonElement>? ReadTemplateVariables(RequestFields f)
    {
        if (f.Raw("chat_template_kwargs") is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Object) throw f.TypeError("chat_template_kwargs", "an object", v);
        return v.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal);
    }
}
