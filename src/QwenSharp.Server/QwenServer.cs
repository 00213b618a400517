using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using QwenSharp.Server.Backend;
using QwenSharp.Server.Ollama;
using QwenSharp.Server.OpenAi;
using QwenSharp.Server.Operations;

namespace QwenSharp.Server;

/// <summary>Builds the HTTP server: OpenAI-compatible routes as vLLM serves them, Ollama's routes beside them,
/// metrics and health, API-key check, CORS, errors as JSON objects.</summary>
public static class QwenServer
{
    /// <param name="configure">extra host configuration (logging levels in tests, for example)</param>
    public static WebApplication Build(ServerOptions options, IModelBackend backend, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(backend);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k =>
        {
            if (IPAddress.TryParse(options.Host, out var ip)) k.Listen(ip, options.Port);
            else if (options.Host == "localhost") k.ListenLocalhost(options.Port);
            else throw new ArgumentException($"--host must be an IP address or 'localhost', got '{options.Host}'.");
            ServerLimits.Apply(k.Limits, options);
        });
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(10));
        if (options.AllowedOrigins.Count > 0) builder.Services.AddCors();
        // One line per request comes from RequestLog; ASP.NET's own per-request lines would triple it.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        configure?.Invoke(builder);

        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("QwenSharp.Server");
        var ctx = new ServingContext(options, backend, logger, app.Lifetime.ApplicationStopping);

        app.Use((http, next) => HandleErrors(http, next, ctx));
        app.UseStatusCodePages(StatusCodePage);
        var hosts = new HostFilter(options.Host, options.AllowedHosts);
        app.Use((http, next) => hosts.Refusal(http.Request) is { } refusal ? WriteError(http, 403, refusal, null) : next(http));
        if (options.AllowedOrigins.Count > 0)
            app.UseCors(p =>
            {
                if (options.AllowedOrigins.Contains("*")) p.AllowAnyOrigin(); else p.WithOrigins([.. options.AllowedOrigins]);
                p.AllowAnyHeader().AllowAnyMethod();
            });
        if (!string.IsNullOrEmpty(options.ApiKey))
        {
            var check = new ApiKeyCheck(options.ApiKey);
            app.Use((http, next) => check.Exempt(http.Request) || check.Accepts(http.Request)
                ? next(http)
                : WriteError(http, 401, "Invalid or missing API key: send 'Authorization: Bearer <key>'.", null));
        }
        MapRoutes(app, ctx);
        // An engine that died serves nothing: /health says so at once, and the server stops once in-flight responses
        // are closed, so that `qwensharp serve` exits non-zero and a supervisor restarts it.
        backend.Stopped.ContinueWith(_ =>
        {
            logger.LogCritical("{Failure} Stopping the server.", backend.Failure ?? "The model backend stopped.");
            app.Lifetime.StopApplication();
        }, TaskScheduler.Default);
        return app;
    }

    private static void MapRoutes(WebApplication app, ServingContext ctx)
    {
        app.MapPost("/v1/chat/completions", (HttpContext h) => ChatCompletionsEndpoint.HandleAsync(h, ctx));
        app.MapPost("/v1/completions", (HttpContext h) => CompletionsEndpoint.HandleAsync(h, ctx));
        app.MapGet("/v1/models", () => InfoEndpoints.Models(ctx));
        app.MapGet("/v1/models/{**id}", (string id) => InfoEndpoints.Model(ctx, id));
        app.MapGet("/health", (HttpContext h) => ctx.Backend.Failure is { } failure ? WriteError(h, 503, failure, null) : Task.CompletedTask);
        app.MapGet("/version", InfoEndpoints.VersionInfo);
        app.MapGet("/metrics", () => InfoEndpoints.Metrics(ctx));
        app.MapPost("/tokenize", (HttpContext h) => Execute(h, TokenizeEndpoints.TokenizeAsync(h, ctx)));
        app.MapPost("/detokenize", (HttpContext h) => Execute(h, TokenizeEndpoints.DetokenizeAsync(h, ctx)));

        app.MapPost("/api/chat", (HttpContext h) => OllamaEndpoints.ChatAsync(h, ctx));
        app.MapPost("/api/generate", (HttpContext h) => OllamaEndpoints.GenerateAsync(h, ctx));
        app.MapGet("/api/tags", () => OllamaEndpoints.Tags(ctx));
        app.MapPost("/api/show", (HttpContext h) => Execute(h, OllamaEndpoints.ShowAsync(h, ctx)));
        app.MapGet("/api/version", OllamaEndpoints.Version);
        // Ollama answers HEAD / and GET / with "Ollama is running"; clients probe it to find the server.
        app.MapGet("/", () => Results.Text("Ollama is running"));
    }

    private static async Task Execute(HttpContext http, Task<IResult> result) => await (await result).ExecuteAsync(http);

    /// <summary>Every failure becomes an error body: a refused request with its status, a client gone silently,
    /// anything unexpected as a logged 500. Nothing a request does can take the server down.</summary>
    private static async Task HandleErrors(HttpContext http, RequestDelegate next, ServingContext ctx)
    {
        try
        {
            await next(http);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is no one to answer.
        }
        catch (Exception e) when (!http.Response.HasStarted)
        {
            var error = Describe(e, http, ctx);
            if (error.StatusCode >= 500 && e is not OperationCanceledException)
                ctx.Logger.LogError(e, "Request {RequestId} to {Path} failed.", RequestIds.Of(http), http.Request.Path.Value);
            else ctx.Logger.LogInformation("Request {Path} refused with {Status}: {Message}", http.Request.Path.Value, error.StatusCode, error.Message);
            await WriteError(http, error.StatusCode, error.Message, error.Param, error.RetryAfterSeconds);
        }
        catch (Exception e)
        {
            ctx.Logger.LogError(e, "Request {RequestId} to {Path} failed after its response began.", RequestIds.Of(http), http.Request.Path.Value);
        }
    }

    /// <summary>
    /// What the client is told of an exception: a refusal as it was made; anything else is our bug, a 500 whose
    /// message names the request id to find in the log and never carries exception text or file paths.
    /// </summary>
    internal static ApiException Describe(Exception e, HttpContext http, ServingContext ctx) => e switch
    {
        ApiException a => a,
        RequestRejectedException r => ApiException.From(r),
        BadHttpRequestException b => new ApiException(b.StatusCode, b.StatusCode == 413
            ? $"The request body is larger than the server's limit of {ctx.Options.MaxRequestBytes} bytes (--max-request-bytes)."
            : $"The request could not be read: {b.Message}"),
        OperationCanceledException when ctx.Stopping.IsCancellationRequested => new ApiException(503, "The server is shutting down."),
        QwenSharp.Engine.EngineFailedException when ctx.Backend.Failure is { } failure => new ApiException(503, failure),
        _ => new ApiException(500, $"Internal error while serving request {RequestIds.Of(http)}; the server log has the details."),
    };

    private static Task StatusCodePage(StatusCodeContext context)
    {
        var http = context.HttpContext;
        string message = http.Response.StatusCode switch
        {
            404 => $"Route {http.Request.Method} {http.Request.Path} not found.",
            405 => $"Method {http.Request.Method} is not allowed on {http.Request.Path}.",
            _ => $"Request failed with status {http.Response.StatusCode}.",
        };
        return WriteError(http, http.Response.StatusCode, message, null);
    }

    /// <summary>OpenAI's error object on OpenAI routes; Ollama's `{"error": "..."}` under /api/.</summary>
    internal static Task WriteError(HttpContext http, int status, string message, string? param, int? retryAfterSeconds = null)
    {
        http.Response.Clear();
        http.Response.StatusCode = status;
        if (retryAfterSeconds is { } seconds) http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (http.Request.Path.StartsWithSegments("/api"))
            return http.Response.WriteAsJsonAsync(new OllamaError { Error = message }, ServerJsonContext.Wire.OllamaError);
        return http.Response.WriteAsJsonAsync(ApiException.Make(status, message, param), ServerJsonContext.Wire.ErrorResponse);
    }
}
