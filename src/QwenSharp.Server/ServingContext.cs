using Microsoft.Extensions.Logging;
using QwenSharp.Server.Backend;
using QwenSharp.Server.OpenAi;
using QwenSharp.Server.Operations;

namespace QwenSharp.Server;

/// <summary>What every endpoint shares: the backend, the names the model answers to, the context check,
/// metrics, the request log and the server's stopping token.</summary>
public sealed class ServingContext
{
    public ServingContext(ServerOptions options, IModelBackend backend, ILogger logger, CancellationToken stopping)
    {
        Options = options;
        Backend = backend;
        Logger = logger;
        Stopping = stopping;
        ModelNames = options.ServedModelNames.Count > 0 ? options.ServedModelNames : [backend.ModelName];
        Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Gate = new AdmissionGate(options.MaxNumSeqs ?? new QwenSharp.Engine.EngineOptions().MaxNumSeqs, options.MaxWaitingRequests);
    }

    public ServerOptions Options { get; }
    public IModelBackend Backend { get; }
    public ILogger Logger { get; }
    /// <summary>Cancelled when the host stops: in-flight generations end and their clients get an error.</summary>
    public CancellationToken Stopping { get; }
    public ServerMetrics Metrics { get; } = new();
    /// <summary>Places for generation requests: running plus waiting; a request past them is answered 429.</summary>
    public AdmissionGate Gate { get; }
    public IReadOnlyList<string> ModelNames { get; }
    public long Created { get; }

    public string PrimaryName => ModelNames[0];

    /// <summary>The served name a request asked for; a missing model means the first one (vLLM does the same).</summary>
    public string ResolveModel(string? requested, bool ollama = false)
    {
        if (string.IsNullOrEmpty(requested)) return PrimaryName;
        foreach (var name in ModelNames)
            if (name == requested || (ollama && requested == name + ":latest")) return name;
        throw new ApiException(404,
            $"The model `{requested}` does not exist. Available: {string.Join(", ", ModelNames.Select(n => $"`{n}`"))}.", "model");
    }

    /// <summary>
    /// The completion budget of a prompt of <paramref name="promptTokens"/> tokens: the requested max_tokens when the
    /// two fit in the context, the rest of the context when none was requested (vLLM's get_max_tokens). A request
    /// that does not fit is refused with both counts and the limit; it is never truncated.
    /// </summary>
    public int ResolveMaxTokens(int promptTokens, int? requested, string promptParam, string maxTokensParam = "max_tokens",
        int? contextLimit = null)
    {
        int limit = Math.Min(contextLimit ?? int.MaxValue, Backend.MaxModelLength);
        if (promptTokens == 0)
            throw ApiException.BadRequest("The prompt is empty: at least one token is needed to generate.", promptParam);
        if (promptTokens >= limit)
            throw ApiException.BadRequest(
                $"This model's maximum context length is {limit} tokens. However, your request has {promptTokens} input tokens, " +
                "which leaves no room for a completion. Please reduce the length of the input.", promptParam);
        if (requested is { } max && (long)promptTokens + max > limit)
            throw ApiException.BadRequest(
                $"This model's maximum context length is {limit} tokens. However, you requested {(long)promptTokens + max} tokens " +
                $"({promptTokens} in the prompt, {max} in the completion). Please reduce the length of the prompt or '{maxTokensParam}'.",
                maxTokensParam);
        return requested ?? limit - promptTokens;
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _ignoredSeen = new(StringComparer.Ordinal);

    /// <summary>Logs, once per field name for the server's lifetime, request fields accepted without effect.</summary>
    public void NoteIgnored(RequestFields fields)
    {
        foreach (var name in fields.Ignored)
            if (_ignoredSeen.TryAdd(name, true))
                Logger.LogInformation("Request field '{Field}' is accepted and ignored: it does not change the output (logged once).", name);
    }

    /// <summary>Asks the backend about parameters only the model can judge (token ids beyond the vocabulary…).</summary>
    public void Validate(BackendRequest request)
    {
        if (Backend.Validate(request) is { } error) throw ApiException.BadRequest(error.Message, error.Param);
    }

    /// <summary>Calls the backend, turning its <see cref="RequestRejectedException"/> into a 400 for the client.</summary>
    public T Guard<T>(Func<IModelBackend, T> call)
    {
        try { return call(Backend); }
        catch (RequestRejectedException e) { throw ApiException.From(e); }
    }
}
