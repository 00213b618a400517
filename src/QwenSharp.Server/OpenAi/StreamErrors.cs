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
            error = QwenServer.Describe(e, http, ctx);
            if (error.StatusCode >= 500)
                ctx.Logger.LogError(e, "Generation of request {RequestId} failed for {Path}.", RequestIds.Of(http), http.Request.Path.Value);
        }
        try
        {
            await sse.WriteAsync(error.ToResponse(), ServerJsonContext.Wire.ErrorResponse, CancellationToken.None);
            await sse.DoneAsync(CancellationToken.None);
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client left while we were telling it why.
        }
    }
}
