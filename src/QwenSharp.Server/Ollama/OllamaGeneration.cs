using System.Diagnostics;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using QwenSharp.Server.Backend;
using QwenSharp.Server.OpenAi;

namespace QwenSharp.Server.Ollama;

/// <summary>
/// Runs one Ollama generation (chat or generate) and writes it as Ollama does: NDJSON chunks with `done: false`
/// then a final chunk with done_reason, token counts and durations in nanoseconds; or, with stream=false, one object.
/// Errors after the stream began go out as a final `{"error": "..."}` line, as Ollama sends them.
/// </summary>
public sealed class OllamaGeneration(ServingContext ctx, HttpContext http, BackendRequest request, RequestLog log)
{
    public static string Now() => DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    public sealed record Timings(long TotalNs, long PromptEvalNs, long EvalNs);

    /// <summary><paramref name="write"/> gets each text delta (finish null) and then the end (finish set, with the
    /// whole text when not streaming).</summary>
    public async Task RunAsync(bool stream, Func<string, GenerationFinished?, Timings, IReadOnlyList<int>, Task> write)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan? first = null;
        // Disposed with the request: a registration left on the server-lifetime token would leak per request.
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, ctx.Stopping);
        var ct = linked.Token;
        var generated = new List<int>();
        var text = new StringBuilder();
        GenerationFinished? finish = null;
        try
        {
            await foreach (var (_, ev) in GenerationRun.RunAsync(ctx, [request], ct))
            {
                if (ev is TokenDelta d)
                {
                    first ??= clock.Elapsed;
                    log.Token();
                    generated.Add(d.TokenId);
                    if (stream) { if (d.Text.Length > 0) await write(d.Text, null, default!, generated); }
                    else text.Append(d.Text);
                }
                else if (ev is GenerationFinished f) finish = f;
            }
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            ctx.Logger.LogInformation("Request {Path} cancelled: the client disconnected.", http.Request.Path.Value);
            return;
        }
        catch (Exception e) when (http.Response.HasStarted)
        {
            var error = QwenServer.Describe(e, http, ctx);
            string message = e is OperationCanceledException ? "The server is shutting down; the generation was cancelled." : error.Message;
            if (error.StatusCode >= 500 && e is not OperationCanceledException)
                ctx.Logger.LogError(e, "Generation of request {RequestId} failed for {Path}.", RequestIds.Of(http), http.Request.Path.Value);
            try { await new NdjsonWriter(http.Response).WriteAsync(new OllamaError { Error = message }, ServerJsonContext.Wire.OllamaError, CancellationToken.None); }
            catch (Exception) when (http.RequestAborted.IsCancellationRequested) { }
            return;
        }
        catch (OperationCanceledException) when (ctx.Stopping.IsCancellationRequested)
        {
            throw new ApiException(503, "The server is shutting down; the generation was cancelled.");
        }

        var total = clock.Elapsed;
        var promptEval = first ?? total;
        var timings = new Timings(Ns(total), Ns(promptEval), Ns(total - promptEval));
        var usage = RequestLog.Usage([finish], promptsShared: true);
        log.Finish(usage, [finish]);
        await write(stream ? "" : text.ToString(), finish, timings, generated);
    }

    private static long Ns(TimeSpan t) => (long)(t.TotalMilliseconds * 1_000_000);
}
