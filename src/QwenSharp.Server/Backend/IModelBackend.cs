using System.Text.Json;
using System.Text.Json.Nodes;

namespace QwenSharp.Server.Backend;

/// <summary>
/// What the HTTP layer needs from a loaded model: its names and limits, the chat template, the tokenizer and a
/// token stream per generation. The server validates the request shape, computes max_tokens and the context
/// check, fans `n` out into n calls of <see cref="Generate"/>, and formats every wire protocol; the backend owns
/// sampling defaults (generation_config.json), stop matching and detokenization.
/// Any method may throw <see cref="RequestRejectedException"/> for a user error (answered 400 naming the param).
/// </summary>
public interface IModelBackend
{
    /// <summary>The name the model answers to when no --served-model-name is given (vLLM uses the --model path).</summary>
    string ModelName { get; }

    /// <summary>Prompt plus completion tokens one sequence may hold (--max-model-len, or the model's context).</summary>
    int MaxModelLength { get; }

    /// <summary>Facts for /api/tags and /api/show (Ollama) and /v1/models.</summary>
    BackendModelInfo Info { get; }

    /// <summary>Renders the model's chat template. <paramref name="messagesJson"/> is an OpenAI-style JSON array of
    /// messages whose content is already a plain string; <paramref name="toolsJson"/> a JSON array or null;
    /// <paramref name="extraVariables"/> holds chat_template_kwargs (e.g. enable_thinking).</summary>
    string RenderChat(string messagesJson, string? toolsJson, bool addGenerationPrompt,
        IReadOnlyDictionary<string, JsonElement>? extraVariables);

    /// <summary>Text to ids, special-token text (e.g. &lt;|im_start|&gt;) recognised as in Hugging Face.</summary>
    int[] Tokenize(string text);

    /// <summary>Ids to text, special tokens kept (as /detokenize in vLLM).</summary>
    string Detokenize(ReadOnlySpan<int> tokenIds);

    /// <summary>A parameter the model cannot honour (a logit_bias or stop_token_ids id beyond the vocabulary…),
    /// or null when the request is acceptable. Called once per request before any generation starts.</summary>
    ParameterError? Validate(BackendRequest request);

    /// <summary>One sequence: zero or more <see cref="TokenDelta"/> then exactly one <see cref="GenerationFinished"/>.
    /// Cancelling <paramref name="cancellationToken"/> (client gone, server stopping) must end the enumeration
    /// promptly and free the sequence's resources.</summary>
    IAsyncEnumerable<BackendEvent> Generate(BackendRequest request, CancellationToken cancellationToken);

    /// <summary>Scheduler and cache gauges for /metrics.</summary>
    BackendStats GetStats();

    /// <summary>Why the backend can no longer generate (its engine stopped after an internal error), or null while
    /// it can. /health answers 503 with it.</summary>
    string? Failure => null;

    /// <summary>Completes when the backend stops for good after an internal error (never otherwise), so the
    /// server can close in-flight responses and exit non-zero for a supervisor to restart it.</summary>
    Task Stopped => Task.Delay(Timeout.Infinite);
}

/// <summary>One generation as the client asked for it. Sampling fields are exactly as received (null = not
/// given, the backend applies its defaults) except <see cref="MaxTokens"/>, which the server resolves against the
/// context (vLLM: max_model_len - prompt length when absent) after checking prompt + max_tokens fits.</summary>
public sealed record BackendRequest
{
    /// <summary>Request id plus choice index, e.g. "chatcmpl-…-0"; unique per sequence.</summary>
    public required string RequestId { get; init; }
    public required int[] PromptTokenIds { get; init; }
    /// <summary>The request field the prompt ids came from, named when one of them is not a token (Ollama's
    /// "context", a completion's token-array "prompt").</summary>
    public string PromptParam { get; init; } = "prompt";
    public required int MaxTokens { get; init; }
    /// <summary>True when the client gave no max_tokens and <see cref="MaxTokens"/> is the room left in the context: the
    /// sequence's length is open (a length-aware rope choice starts it plain and recomputes it under YaRN if it grows past
    /// original_max_position_embeddings).</summary>
    public bool MaxTokensIsContextRoom { get; init; }
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    /// <summary>0 or -1 disable (vLLM).</summary>
    public int? TopK { get; init; }
    public double? MinP { get; init; }
    public double? RepetitionPenalty { get; init; }
    public double? PresencePenalty { get; init; }
    public double? FrequencyPenalty { get; init; }
    /// <summary>Token id → bias added to its logit, values in [-100, 100].</summary>
    public IReadOnlyDictionary<int, double>? LogitBias { get; init; }
    /// <summary>As requested, the same for all n sequences: each derives its own random stream from it and
    /// <see cref="SequenceIndex"/> (GenerationState does this), so n seeded choices differ and are reproducible.</summary>
    public long? Seed { get; init; }
    /// <summary>Which of the request's <see cref="N"/> sequences for this prompt this is (0-based).</summary>
    public int SequenceIndex { get; init; }
    /// <summary>How many sequences the request samples for this prompt (OpenAI's n), for the resolved parameters.</summary>
    public int N { get; init; } = 1;
    public int? MinTokens { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];
    public bool IgnoreEos { get; init; }
    /// <summary>Null: no logprobs. Otherwise return the sampled token's logprob plus this many alternatives (0..20).</summary>
    public int? Logprobs { get; init; }
    public bool SkipSpecialTokens { get; init; } = true;
    public bool IncludeStopStrInOutput { get; init; }
    /// <summary>What the output must follow (a schema, regex, choice or grammar; tool calls); null when free.
    /// A constraint the backend cannot compile is a <see cref="ParameterError"/> naming its field.</summary>
    public QwenSharp.Grammar.StructuredOutput? Output { get; init; }
}

/// <summary>What one sequence produces: <see cref="TokenDelta"/>s then one <see cref="GenerationFinished"/>.</summary>
public abstract record BackendEvent;

/// <summary>One generated token. <paramref name="Text"/> is the new complete text it makes visible (may be empty
/// while a UTF-8 sequence or a possible stop string is held back).</summary>
public sealed record TokenDelta(string Text, int TokenId, TokenLogprob? Logprob = null) : BackendEvent;

/// <summary>The end of a sequence. <paramref name="Reason"/> is "stop" (EOS, stop string or stop token) or
/// "length" (max_tokens or the context); <paramref name="StopReason"/> is the matched stop string or the stop
/// token id (as vLLM's stop_reason), null for EOS or length. <paramref name="SamplingParams"/> is the resolved
/// parameters (defaults applied) returned to the client as `sampling_params`; on a model whose config has YaRN it also
/// holds `rope_scaling`, the rotary table the sequence ran under.</summary>
public sealed record GenerationFinished(
    string Reason,
    int PromptTokens,
    int CompletionTokens,
    int CachedPromptTokens,
    JsonObject SamplingParams,
    JsonNode? StopReason = null) : BackendEvent;

/// <summary>The sampled token's log-probability and the most likely alternatives (OpenAI's logprobs shape).</summary>
public sealed record TokenLogprob(string Token, double Logprob, byte[] Bytes, IReadOnlyList<TopLogprob> Top);

public sealed record TopLogprob(string Token, int TokenId, double Logprob, byte[] Bytes);

/// <summary>A parameter refused by the backend, answered 400 with <c>param</c> set.</summary>
public sealed record ParameterError(string Param, string Message);

/// <summary>Engine gauges and counters (prefix-cache figures in tokens, as vLLM counts them).</summary>
public sealed record BackendStats(int Running, int Waiting, double KvCacheUsage, long PrefixCacheQueries, long PrefixCacheHits);

/// <summary>Model facts reported by /api/tags, /api/show and /v1/models.</summary>
public sealed record BackendModelInfo(
    string Family = "qwen2",
    string Format = "",
    string ParameterSize = "",
    string QuantizationLevel = "",
    long SizeBytes = 0,
    string ChatTemplate = "");

/// <summary>A user error found by the backend (bad template input, unknown token id…): answered with
/// <see cref="StatusCode"/> and an OpenAI error object naming <see cref="Param"/>.</summary>
public sealed class RequestRejectedException(string message, string? param = null, int statusCode = 400) : Exception(message)
{
    public string? Param { get; } = param;
    public int StatusCode { get; } = statusCode;
}
