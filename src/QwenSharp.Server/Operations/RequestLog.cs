using System.Diagnostics;
using Microsoft.Extensions.Logging;
using QwenSharp.Server.Backend;
using QwenSharp.Server.OpenAi;

namespace QwenSharp.Server;

/// <summary>One log line per finished generation request: id, route, token counts, time to first token, total time.</summary>
public sealed class RequestLog(ServingContext ctx, string requestId, string route, Stopwatch clock)
{
    private TimeSpan? _firstToken;

    public void Token() => _firstToken ??= clock.Elapsed;

    public void Finish(Usage usage, IReadOnlyList<GenerationFinished?> finishes)
    {
        ctx.Logger.LogInformation(
            "Request {RequestId} {Route}: prompt_tokens={PromptTokens} completion_tokens={CompletionTokens} cached_tokens={CachedTokens} " +
            "ttft_ms={TtftMs:F1} total_ms={TotalMs:F1} finish={Finish}",
            requestId, route, usage.PromptTokens, usage.CompletionTokens, usage.PromptTokensDetails.CachedTokens,
            _firstToken?.TotalMilliseconds ?? double.NaN, clock.Elapsed.TotalMilliseconds,
            string.Join(",", finishes.Select(f => f?.Reason ?? "none")));
    }

    /// <summary>Usage over every choice. With <paramref name="promptsShared"/> the prompt is counted once (n choices of
    /// one prompt), otherwise once per distinct prompt of <paramref name="choicesPerPrompt"/> choices.</summary>
    public static Usage Usage(IReadOnlyList<GenerationFinished?> finishes, bool promptsShared, int choicesPerPrompt = 1)
    {
        int prompt = 0, completion = 0, cached = 0;
        int per = promptsShared ? Math.Max(1, finishes.Count) : Math.Max(1, choicesPerPrompt);
        for (int i = 0; i < finishes.Count; i++)
        {
            if (finishes[i] is not { } f) continue;
            completion += f.CompletionTokens;
            if (i % per == 0)
            {
                prompt += f.PromptTokens;
                cached += f.CachedPromptTokens;
            }
        }
        return new Usage { PromptTokens = prompt, CompletionTokens = completion, PromptTokensDetails = new PromptTokensDetails { CachedTokens = cached } };
    }
}
