using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using QwenSharp.Server.Backend;
using QwenSharp.Server.OpenAi;

namespace QwenSharp.Server.Ollama;

/// <summary>Ollama's API beside the OpenAI one: /api/chat, /api/generate, /api/tags, /api/show, /api/version.</summary>
public static class OllamaEndpoints
{
    public static async Task ChatAsync(HttpContext http, ServingContext ctx)
    {
        var clock = Stopwatch.StartNew();
        using var doc = await RequestBody.ReadAsync(http);
        var f = new RequestFields(doc.RootElement);
        string model = ctx.ResolveModel(RequireModel(f), ollama: true);
        bool stream = f.Bool("stream") ?? true; // Ollama streams unless told not to
        var format = ReadCommon(f);
        var options = OllamaOptions.Read(f.Object("options"));
        // Ollama has no tool_choice: with tools the model may answer or call them ("auto").
        var toolRequest = ToolRequest.Read(f, hasChoice: false);
        if (toolRequest is not null) format = toolRequest.Constraint(format);
        bool parseTools = toolRequest?.CallsTools == true;
        var messagesRaw = f.Raw("messages");
        f.RejectUnread();

        if (messagesRaw is not { } m || (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 0))
        {
            // Ollama answers a chat without messages by loading the model: done at once, done_reason "load".
            await WriteOne(http, new OllamaChatChunk { Model = model, CreatedAt = OllamaGeneration.Now(), Message = new OllamaMessage { Role = "assistant", Content = "" }, Done = true, DoneReason = "load" }, ServerJsonContext.Wire.OllamaChatChunk);
            return;
        }
        string messages = ChatMessages.Normalize(m);
        string prompt = ctx.Guard(b => b.RenderChat(messages, toolRequest?.TemplateJson, true, null));
        int[] ids = ctx.Guard(b => b.Tokenize(prompt));
        string id = "ollama-chat-" + RequestIds.From(http);
        var request = Prepare(ctx, id, ids, options, "messages", format: format);

        using var place = ctx.Gate.Enter(); // before the response starts: a full server answers 429
        var ndjson = new NdjsonWriter(http.Response);
        var ct = http.RequestAborted;
        var run = new OllamaGeneration(ctx, http, request, new RequestLog(ctx, id, "/api/chat", clock));
        // Ollama sends a call in one piece once it is whole: content streams, calls come with the last chunk.
        var splitter = parseTools ? new QwenSharp.Text.ToolCalls.ToolCallStreamSplitter(deferCalls: true) : null;
        await run.RunAsync(stream, async (text, finish, timings, generated) =>
        {
            List<OllamaToolCall>? calls = null;
            if (splitter != null)
            {
                var content = new StringBuilder();
                if (stream || finish == null)
                    foreach (var e in splitter.Push(text)) if (e is QwenSharp.Text.ToolCalls.ContentDelta c) content.Append(c.Text);
                if (finish != null)
                {
                    if (!stream) splitter.Push(text);
                    var end = splitter.Finish();
                    foreach (var e in ChatCompletionsEndpoint.WithoutCutCall(end.Events)) if (e is QwenSharp.Text.ToolCalls.ContentDelta c) content.Append(c.Text);
                    var final = stream ? end.Final : QwenSharp.Text.ToolCalls.ToolReply.Read(text);
                    if (!stream) content.Clear().Append(final.Content ?? "");
                    if (final.Calls.Count > 0)
                        calls = [.. final.Calls.Select((c, i) => new OllamaToolCall
                        {
                            Function = new OllamaFunctionCall { Index = i, Name = c.Name, Arguments = JsonNode.Parse(c.Arguments) ?? new JsonObject() },
                        })];
                }
                text = content.ToString();
                if (stream && finish == null && text.Length == 0) return;
            }
            var chunk = new OllamaChatChunk
            {
                Model = model, CreatedAt = OllamaGeneration.Now(), Message = new OllamaMessage { Role = "assistant", Content = text, ToolCalls = calls },
                Done = finish != null, DoneReason = finish?.Reason,
                TotalDuration = finish != null ? timings.TotalNs : null, LoadDuration = finish != null ? 0 : null,
                PromptEvalCount = finish?.PromptTokens, PromptEvalDuration = finish != null ? timings.PromptEvalNs : null,
                EvalCount = finish?.CompletionTokens, EvalDuration = finish != null ? timings.EvalNs : null,
            };
            if (!stream) { await WriteOne(http, chunk, ServerJsonContext.Wire.OllamaChatChunk); return; }
            if (!http.Response.HasStarted) ndjson.Start();
            await ndjson.WriteAsync(chunk, ServerJsonContext.Wire.OllamaChatChunk, ct);
        });
    }

    public static async Task GenerateAsync(HttpContext http, ServingContext ctx)
    {
        var clock = Stopwatch.StartNew();
        using var doc = await RequestBody.ReadAsync(http);
        var f = new RequestFields(doc.RootElement);
        string model = ctx.ResolveModel(RequireModel(f), ollama: true);
        bool stream = f.Bool("stream") ?? true;
        var format = ReadCommon(f);
        var options = OllamaOptions.Read(f.Object("options"));
        string prompt = f.String("prompt") ?? "";
        string? system = f.String("system");
        bool raw = f.Bool("raw") ?? false;
        var context = f.Ints("context");
        if (f.String("suffix") is { Length: > 0 })
            throw ApiException.BadRequest("'suffix' is not supported: Qwen2 models are served without fill-in-the-middle.", "suffix");
        if (f.String("template") is { Length: > 0 })
            throw ApiException.BadRequest("'template' is not supported: the model's chat template (or --chat-template) is used.", "template");
        if (f.Raw("images") is { ValueKind: JsonValueKind.Array } images && images.GetArrayLength() > 0)
            throw ApiException.BadRequest("'images' are not supported: QwenSharp serves text-only models.", "images");
        f.RejectUnread();

        if (prompt.Length == 0 && context.Count == 0)
        {
            await WriteOne(http, new OllamaGenerateChunk { Model = model, CreatedAt = OllamaGeneration.Now(), Response = "", Done = true, DoneReason = "load" }, ServerJsonContext.Wire.OllamaGenerateChunk);
            return;
        }
        string text = prompt;
        if (!raw)
        {
            var messages = new JsonArray();
            if (!string.IsNullOrEmpty(system)) messages.Add(new JsonObject { ["role"] = "system", ["content"] = system });
            messages.Add(new JsonObject { ["role"] = "user", ["content"] = prompt });
            text = ctx.Guard(b => b.RenderChat(messages.ToJsonString(), null, true, null));
        }
        int[] ids = [.. context, .. ctx.Guard(b => b.Tokenize(text))];
        string id = "ollama-gen-" + RequestIds.From(http);
        // Ids from 'context' are the only ones that may not be tokens; the prompt's come from the tokenizer.
        var request = Prepare(ctx, id, ids, options, "prompt", context.Count > 0 ? "context" : "prompt", format);

        using var place = ctx.Gate.Enter(); // before the response starts: a full server answers 429
        var ndjson = new NdjsonWriter(http.Response);
        var ct = http.RequestAborted;
        var run = new OllamaGeneration(ctx, http, request, new RequestLog(ctx, id, "/api/generate", clock));
        await run.RunAsync(stream, async (delta, finish, timings, generated) =>
        {
            var chunk = new OllamaGenerateChunk
            {
                Model = model, CreatedAt = OllamaGeneration.Now(), Response = delta, Done = finish != null, DoneReason = finish?.Reason,
                Context = finish != null ? [.. ids, .. generated] : null,
                TotalDuration = finish != null ? timings.TotalNs : null, LoadDuration = finish != null ? 0 : null,
                PromptEvalCount = finish?.PromptTokens, PromptEvalDuration = finish != null ? timings.PromptEvalNs : null,
                EvalCount = finish?.CompletionTokens, EvalDuration = finish != null ? timings.EvalNs : null,
            };
            if (!stream) { await WriteOne(http, chunk, ServerJsonContext.Wire.OllamaGenerateChunk); return; }
            if (!http.Response.HasStarted) ndjson.Start();
            await ndjson.WriteAsync(chunk, ServerJsonContext.Wire.OllamaGenerateChunk, ct);
        });
    }

    public static IResult Tags(ServingContext ctx) => Results.Json(new OllamaTags
    {
        Models = ctx.ModelNames.Select(name => new OllamaModel
        {
            Name = name, Model = name, ModifiedAt = ModifiedAt(ctx), Size = ctx.Backend.Info.SizeBytes,
            Digest = Digest(ctx, name), Details = Details(ctx),
        }).ToList(),
    }, ServerJsonContext.Wire.OllamaTags);

    public static async Task<IResult> ShowAsync(HttpContext http, ServingContext ctx)
    {
        using var doc = await RequestBody.ReadAsync(http);
        var f = new RequestFields(doc.RootElement);
        string? requested = f.String("model") ?? f.String("name"); // "name" is the field's older spelling
        if (string.IsNullOrEmpty(requested)) throw ApiException.BadRequest("'model' is required.", "model");
        string model = ctx.ResolveModel(requested, ollama: true);
        f.Bool("verbose");
        f.Raw("CustomHeaders");
        f.RejectUnread();
        var info = ctx.Backend.Info;
        return Results.Json(new OllamaShow
        {
            Modelfile = $"# Served by QwenSharp\nFROM {(ctx.Options.Model.Length > 0 ? ctx.Options.Model : model)}\n",
            Parameters = "",
            Template = info.ChatTemplate,
            Details = Details(ctx),
            ModelInfo = new JsonObject
            {
                ["general.architecture"] = info.Family,
                [$"{info.Family}.context_length"] = ctx.Backend.MaxModelLength,
            },
            Capabilities = ["completion", "tools"],
            ModifiedAt = ModifiedAt(ctx),
        }, ServerJsonContext.Wire.OllamaShow);
    }

    public static IResult Version() => Results.Json(new OllamaVersion { Version = InfoEndpoints.Version }, ServerJsonContext.Wire.OllamaVersion);

    private static string RequireModel(RequestFields f) =>
        f.String("model") is { Length: > 0 } m ? m : throw ApiException.BadRequest("'model' is required.", "model");

    /// <summary>keep_alive only tells Ollama how long to keep a model loaded; QwenSharp keeps its one model for the
    /// server's lifetime, so any value is accepted. `think` is refused when asked for. Returns `format`: "json"
    /// (any JSON object, as Ollama's JSON mode) or a JSON schema the output must follow.</summary>
    private static QwenSharp.Grammar.StructuredOutput? ReadCommon(RequestFields f)
    {
        f.Raw("keep_alive");
        f.Raw("CustomHeaders"); // OllamaSharp serializes its per-request header map into the body; it carries no parameter
        if (f.Raw("think") is { } think && think.ValueKind != JsonValueKind.False)
            throw ApiException.BadRequest("'think' is not supported for this model.", "think");
        return f.Raw("format") switch
        {
            null => null,
            { ValueKind: JsonValueKind.String } s when s.GetString() == "" => null,
            { ValueKind: JsonValueKind.String } s when s.GetString() == "json" => QwenSharp.Grammar.StructuredOutput.JsonObject("format"),
            { ValueKind: JsonValueKind.Object } o => QwenSharp.Grammar.StructuredOutput.JsonSchema(JsonNode.Parse(o.GetRawText())!, "format"),
            { } other => throw ApiException.BadRequest($"'format' must be \"json\" or a JSON schema object, got {RequestFields.DescribeValue(other)}.", "format"),
        };
    }

    private static BackendRequest Prepare(ServingContext ctx, string id, int[] ids, OllamaOptions.Result options, string promptParam,
        string? idsParam = null, QwenSharp.Grammar.StructuredOutput? format = null)
    {
        int maxTokens = ctx.ResolveMaxTokens(ids.Length, options.Sampling.MaxTokens, promptParam, options.Sampling.MaxTokensParam,
            options.ContextLimit);
        var request = options.Sampling.ToBackend(id, ids, maxTokens, 0) with { PromptParam = idsParam ?? promptParam, Output = format };
        ctx.Validate(request);
        return request;
    }

    private static async Task WriteOne<T>(HttpContext http, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        await http.Response.WriteAsJsonAsync(value, type, cancellationToken: http.RequestAborted);

    private static string ModifiedAt(ServingContext ctx) =>
        DateTimeOffset.FromUnixTimeSeconds(ctx.Created).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Ollama's digest names a manifest; QwenSharp has none, so this is a stable id of the name and source.</summary>
    private static string Digest(ServingContext ctx, string name) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name + "\n" + ctx.Options.Model)));

    private static OllamaDetails Details(ServingContext ctx)
    {
        var info = ctx.Backend.Info;
        return new OllamaDetails
        {
            Format = info.Format, Family = info.Family, Families = [info.Family],
            ParameterSize = info.ParameterSize, QuantizationLevel = info.QuantizationLevel,
        };
    }
}
