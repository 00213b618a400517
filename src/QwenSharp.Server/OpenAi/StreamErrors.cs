using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace QwenSharp.Server.OpenAi;

/// <summary>
/// Errors after a stream has begun can no longer change the status code, so they go out as one
/// `data: {"error": {...}}` event followed by `data: [DONE]`, as vLLM does. A client that went away gets nothing;
/// a server that is stopping tells its clients so (503).
/// </summary>
public static class StreamErrors
{
    public static async Task GuardAsync(HttpContext http, ServingContext ctx, SseWriter sse, Func<Task> body)
    {
        ApiException error;
        try
        {
            await body();
            return;
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            ctx.Logger.LogInformation("Request {Path} cancelled: the client disconnected.", http.Request.Path.Value);
            return;
        }
        catch (OperationCanceledException) when (ctx.Stopping.IsCancellationRequested)
        {
            error = new ApiException(503, "The server is shutting down; the generation was cancelled.");
        }
        catch (ApiException e)
        {
            error = e;
        }
        catch (Exception e)
        {
            ctx.Logger.LogError(e, "Generation failed for {Path}.", http.Request.Path.Value);
            error = new ApiException(500, $"Generation failed: {e.Message}");
        }
        try
        {
            await sse.WriteAsync(error.ToResponse(), ServerJsonContext.Default.ErrorResponse, CancellationToken.None);
            await sse.DoneAsync(CancellationToken.None);
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client left while we were telling it why.
        }
    }
}
