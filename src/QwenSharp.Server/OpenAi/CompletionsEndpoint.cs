using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using QwenSharp.Server.Backend;

namespace QwenSharp.Server.OpenAi;

/// <summary>POST /v1/completions: OpenAI's legacy completions with vLLM's extras. `prompt` may be a string, a list of
/// strings, a list of token ids or a list of such lists; choice p·n + i is the i-th sample of prompt p.</summary>
public static class CompletionsEndpoint
{
    /// <summary>vLLM's CompletionRequest default, itself OpenAI's.</summary>
    public const int DefaultMaxTokens = 16;
    private const int MaxSequences = 256;

    private sealed record Prompt(string Text, int[] Ids);

    public static async Task HandleAsync(HttpContext http, ServingContext ctx)
    {
        var clock = Stopwatch.StartNew();
        using var doc = await RequestBody.ReadAsync(http);
        var f = new RequestFields(doc.RootElement);

        string model = ctx.ResolveModel(f.String("model"));
        var prompts = ReadPrompts(f, ctx);
        bool stream = f.Bool("stream") ?? false;
        bool includeUsage = StreamOptions.Read(f, stream);
        var sampling = SamplingRequest.Read(f, chat: false);
        bool echo = f.Bool("echo") ?? false;
        if (echo && sampling.Logprobs != null)
            throw ApiException.BadRequest("'echo' with 'logprobs' needs prompt logprobs, which QwenSharp does not compute.", "echo");
        if (f.String("suffix") is { Length: > 0 })
            throw ApiException.BadRequest("'suffix' is not supported: Qwen2 models are served without fill-in-the-middle.", "suffix");
        f.RejectUnread();
        ctx.NoteIgnored(f);

        if ((long)prompts.Count * sampling.N > MaxSequences)
            throw ApiException.BadRequest($"{prompts.Count} prompts × n={sampling.N} is {(long)prompts.Count * sampling.N} sequences; at most {MaxSequences} per request.", "n");
        string id = "cmpl-" + RequestIds.From(http);
        var requests = new List<BackendRequest>();
        var echoes = new List<string>();
        for (int p = 0; p < prompts.Count; p++)
        {
            string param = prompts.Count > 1 ? $"prompt[{p}]" : "prompt";
            int maxTokens = ctx.ResolveMaxTokens(prompts[p].Ids.Length, sampling.MaxTokens ?? DefaultMaxTokens, param);
            for (int i = 0; i < sampling.N; i++)
            {
                requests.Add(sampling.ToBackend($"{id}-{p}-{i}", prompts[p].Ids, maxTokens, i) with
                {
                    PromptParam = param,
                    MaxTokensIsContextRoom = false, // an absent max_tokens is 16 here (vLLM's completions default), a bound
                });
                echoes.Add(echo ? prompts[p].Text : "");
            }
        }
        // The n samples of one prompt differ only in their seed: checking each prompt's first covers them all.
        for (int r = 0; r < requests.Count; r += sampling.N) ctx.Validate(requests[r]);
        using var place = ctx.Gate.Enter(); // before the response starts: a full server answers 429

        var log = new RequestLog(ctx, id, "/v1/completions", clock);
        // Disposed with the request: a registration left on the server-lifetime token would leak per request.
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, ctx.Stopping);
        var ct = linked.Token;
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        bool wantLogprobs = sampling.Logprobs != null;
        if (stream) await StreamAsync(http, ctx, requests, echoes, sampling.N, id, model, created, includeUsage, wantLogprobs, log, ct);
        else await WholeAsync(http, ctx, requests, echoes, sampling.N, id, model, created, wantLogprobs, log, ct);
    }

    private static async Task WholeAsync(HttpContext http, ServingContext ctx, List<BackendRequest> requests, List<string> echoes,
        int n, string id, string model, long created, bool wantLogprobs, RequestLog log, CancellationToken ct)
    {
        var texts = echoes.Select(e => new StringBuilder(e)).ToArray();
        var choices = requests.Select((_, i) => new CompletionChoice
        {
            Index = i, Text = "", Logprobs = wantLogprobs ? new CompletionLogprobs() : null,
        }).ToList();
        var finishes = new GenerationFinished?[requests.Count];
        await foreach (var (choice, ev) in GenerationRun.RunAsync(ctx, requests, ct))
        {
            if (ev is TokenDelta d)
            {
                log.Token();
                if (d.Logprob != null && choices[choice].Logprobs is { } lps) LogprobShapes.AppendLegacy(lps, d.Logprob, texts[choice].Length);
                texts[choice].Append(d.Text);
            }
            else if (ev is GenerationFinished fin)
            {
                finishes[choice] = fin;
                choices[choice].FinishReason = fin.Reason;
                choices[choice].StopReason = fin.StopReason?.DeepClone();
            }
        }
        for (int i = 0; i < choices.Count; i++) choices[i].Text = texts[i].ToString();
        var usage = RequestLog.Usage(finishes, promptsShared: false, choicesPerPrompt: n);
        log.Finish(usage, finishes);
        var response = new CompletionResponse
        {
            Id = id, Created = created, Model = model, Choices = choices, Usage = usage,
            SamplingParams = finishes[0]?.SamplingParams.DeepClone().AsObject(),
        };
        await http.Response.WriteAsJsonAsync(response, ServerJsonContext.Wire.CompletionResponse, cancellationToken: ct);
    }

    private static async Task StreamAsync(HttpContext http, ServingContext ctx, List<BackendRequest> requests, List<string> echoes,
        int n, string id, string model, long created, bool includeUsage, bool wantLogprobs, RequestLog log, CancellationToken ct)
    {
        var sse = new SseWriter(http.Response);
        sse.Start();
        var finishes = new GenerationFinished?[requests.Count];
        var offsets = new int[requests.Count];
        await StreamErrors.GuardAsync(http, ctx, sse, async () =>
        {
            for (int i = 0; i < requests.Count; i++)
            {
                if (echoes[i].Length == 0) continue;
                offsets[i] = echoes[i].Length;
                await sse.WriteAsync(Chunk(id, created, model, new CompletionChoice { Index = i, Text = echoes[i] }),
                    ServerJsonContext.Wire.CompletionResponse, ct);
            }
            await foreach (var (choice, ev) in GenerationRun.RunAsync(ctx, requests, ct))
            {
                if (ev is TokenDelta d)
                {
                    log.Token();
                    if (d.Text.Length == 0 && !wantLogprobs) continue;
                    CompletionLogprobs? lps = null;
                    if (wantLogprobs && d.Logprob != null)
                    {
                        lps = new CompletionLogprobs();
                        LogprobShapes.AppendLegacy(lps, d.Logprob, offsets[choice]);
                    }
                    offsets[choice] += d.Text.Length;
                    await sse.WriteAsync(Chunk(id, created, model, new CompletionChoice { Index = choice, Text = d.Text, Logprobs = lps }),
                        ServerJsonContext.Wire.CompletionResponse, ct);
                }
                else if (ev is GenerationFinished fin)
                {
                    finishes[choice] = fin;
                    var chunk = Chunk(id, created, model, new CompletionChoice
                    {
                        Index = choice, Text = "", FinishReason = fin.Reason, StopReason = fin.StopReason?.DeepClone(),
                    });
                    chunk.SamplingParams = fin.SamplingParams.DeepClone().AsObject();
                    await sse.WriteAsync(chunk, ServerJsonContext.Wire.CompletionResponse, ct);
                }
            }
            var usage = RequestLog.Usage(finishes, promptsShared: false, choicesPerPrompt: n);
            if (includeUsage)
                await sse.WriteAsync(new CompletionResponse { Id = id, Created = created, Model = model, Choices = [], Usage = usage },
                    ServerJsonContext.Wire.CompletionResponse, ct);
            log.Finish(usage, finishes);
            await sse.DoneAsync(ct);
        });
    }

    private static CompletionResponse Chunk(string id, long created, string model, CompletionChoice choice) =>
        new() { Id = id, Created = created, Model = model, Choices = [choice] };

    private static List<Prompt> ReadPrompts(RequestFields f, ServingContext ctx)
    {
        if (f.Raw("prompt") is not { } v) throw ApiException.BadRequest("'prompt' is required.", "prompt");
        const string expected = "a string, an array of strings, an array of token ids or an array of arrays of token ids";
        if (v.ValueKind == JsonValueKind.String) return [FromText(ctx, v.GetString()!)];
        if (v.ValueKind != JsonValueKind.Array) throw f.TypeError("prompt", expected, v);
        if (v.GetArrayLength() == 0) throw ApiException.BadRequest("'prompt' must not be empty.", "prompt");
        var first = v[0].ValueKind;
        var prompts = new List<Prompt>();
        if (first == JsonValueKind.Number)
        {
            var ids = v.EnumerateArray().Select(e => RequestFields.AsInt(e, "prompt")).ToArray();
            return [FromIds(ctx, ids, "prompt")];
        }
        int i = 0;
        foreach (var item in v.EnumerateArray())
        {
            string where = $"prompt[{i++}]";
            if (item.ValueKind != first) throw ApiException.BadRequest($"'prompt' must be {expected}; the items are of mixed types.", "prompt");
            if (item.ValueKind == JsonValueKind.String) prompts.Add(FromText(ctx, item.GetString()!));
            else if (item.ValueKind == JsonValueKind.Array)
            {
                var ids = item.EnumerateArray().Select(e => RequestFields.AsInt(e, where)).ToArray();
                prompts.Add(FromIds(ctx, ids, where));
            }
            else throw f.TypeError("prompt", expected, v);
        }
        return prompts;
    }

    /// <summary>A token-id prompt; an id the model does not have is refused naming the prompt it came in.</summary>
    private static Prompt FromIds(ServingContext ctx, int[] ids, string param)
    {
        try { return new Prompt(ctx.Backend.Detokenize(ids), ids); }
        catch (RequestRejectedException e) { throw new ApiException(e.StatusCode, e.Message, param); }
    }

    private static Prompt FromText(ServingContext ctx, string text) => new(text, ctx.Guard(b => b.Tokenize(text)));
}
