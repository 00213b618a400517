using System.Globalization;
using System.Text.Json;
using QwenSharp.Server.Backend;

namespace QwenSharp.Server.OpenAi;

/// <summary>
/// The sampling fields of a chat or completion request under vLLM's names, checked with vLLM's ranges
/// (SamplingParams._verify_args): n ≥ 1, penalties in [-2, 2], repetition_penalty &gt; 0, temperature ≥ 0,
/// top_p in (0, 1], top_k -1/0 (off) or ≥ 1, min_p in [0, 1], max_tokens ≥ 1, 0 ≤ min_tokens ≤ max_tokens,
/// logprobs up to vLLM's default max_logprobs (20), logit_bias values in [-100, 100] (OpenAI's range).
/// </summary>
public sealed record SamplingRequest
{
    public const int MaxLogprobs = 20;
    /// <summary>Stop strings per request and UTF-8 bytes per stop string (OpenAI allows 4 stops; vLLM sets no
    /// bound). Bounded because every stream's stop matching runs on the engine's one thread.</summary>
    public const int MaxStops = 64, MaxStopBytes = 1000;
    public const int MaxN = 128;

    public int N { get; init; } = 1;
    /// <summary>As requested; null means "the rest of the context" (chat) — completions default to 16 as in vLLM.</summary>
    public int? MaxTokens { get; init; }
    public string MaxTokensParam { get; init; } = "max_tokens";
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? TopK { get; init; }
    public double? MinP { get; init; }
    public double? RepetitionPenalty { get; init; }
    public double? PresencePenalty { get; init; }
    public double? FrequencyPenalty { get; init; }
    public IReadOnlyDictionary<int, double>? LogitBias { get; init; }
    public long? Seed { get; init; }
    public int? MinTokens { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];
    public bool IgnoreEos { get; init; }
    public int? Logprobs { get; init; }
    public bool SkipSpecialTokens { get; init; } = true;
    public bool IncludeStopStrInOutput { get; init; }
    /// <summary>The constraint on the output (response_format, structured_outputs, guided_*, grammar); null when free.</summary>
    public QwenSharp.Grammar.StructuredOutput? Output { get; init; }

    /// <summary>The request for sequence <paramref name="choice"/> of the n sampled for one prompt.</summary>
    public BackendRequest ToBackend(string requestId, int[] promptTokenIds, int maxTokens, int choice) => new()
    {
        RequestId = requestId,
        PromptTokenIds = promptTokenIds,
        MaxTokens = maxTokens,
        MaxTokensIsContextRoom = MaxTokens is null,
        Temperature = Temperature,
        TopP = TopP,
        TopK = TopK,
        MinP = MinP,
        RepetitionPenalty = RepetitionPenalty,
        PresencePenalty = PresencePenalty,
        FrequencyPenalty = FrequencyPenalty,
        LogitBias = LogitBias,
        Seed = Seed,
        SequenceIndex = choice,
        N = N,
        MinTokens = MinTokens,
        Stop = Stop,
        StopTokenIds = StopTokenIds,
        IgnoreEos = IgnoreEos,
        Logprobs = Logprobs,
        SkipSpecialTokens = SkipSpecialTokens,
        IncludeStopStrInOutput = IncludeStopStrInOutput,
        Output = Output,
    };

    /// <summary>Reads and checks the sampling fields shared by /v1/chat/completions and /v1/completions.</summary>
    public static SamplingRequest Read(RequestFields f, bool chat)
    {
        int n = f.Int("n", 1, MaxN) ?? 1;
        if (f.Int("best_of", 1, MaxN) is { } bestOf && bestOf != n)
            throw ApiException.BadRequest($"'best_of' ({bestOf}) different from 'n' ({n}) is not supported: QwenSharp returns every sequence it samples.", "best_of");
        if (f.Bool("use_beam_search") == true)
            throw ApiException.BadRequest("'use_beam_search' is not supported: QwenSharp samples, it does not run beam search.", "use_beam_search");
        if (f.Bool("spaces_between_special_tokens") == false)
            throw ApiException.BadRequest("'spaces_between_special_tokens': false is not supported; Qwen2's byte-level tokenizer decodes special tokens without added spaces either way.", "spaces_between_special_tokens");
        f.Bool("add_special_tokens"); // Qwen2 adds no BOS/EOS when encoding, so true and false encode alike.
        OutputNeutral(f);
        var output = StructuredOutputRequest.Read(f);

        int? maxTokens = null;
        string maxParam = "max_tokens";
        if (chat && f.Int("max_completion_tokens", 1) is { } mct)
        {
            maxTokens = mct;
            maxParam = "max_completion_tokens";
            f.Int("max_tokens", 1);
        }
        else maxTokens = f.Int("max_tokens", 1);

        int? minTokens = f.Int("min_tokens", 0);
        if (minTokens is { } mt && maxTokens is { } mx && mt > mx)
            throw ApiException.BadRequest($"'min_tokens' ({mt}) must be at most '{maxParam}' ({mx}).", "min_tokens");

        int? logprobs;
        if (chat)
        {
            bool want = f.Bool("logprobs") ?? false;
            int? top = f.Int("top_logprobs", 0, MaxLogprobs);
            if (top != null && top > 0 && !want)
                throw ApiException.BadRequest("When using 'top_logprobs', 'logprobs' must be set to true.", "top_logprobs");
            logprobs = want ? top ?? 0 : null;
        }
        else logprobs = f.Int("logprobs", 0, MaxLogprobs);

        var stop = CheckStops(f.StringOrStrings("stop"), f.Name("stop"));

        int? topK = f.Int("top_k", -1);

        return new SamplingRequest
        {
            N = n,
            MaxTokens = maxTokens,
            MaxTokensParam = maxParam,
            Temperature = f.Number("temperature", 0),
            TopP = f.Number("top_p", 0, 1, minExclusive: true),
            TopK = topK,
            MinP = f.Number("min_p", 0, 1),
            RepetitionPenalty = f.Number("repetition_penalty", 0, minExclusive: true),
            PresencePenalty = f.Number("presence_penalty", -2, 2),
            FrequencyPenalty = f.Number("frequency_penalty", -2, 2),
            LogitBias = ReadLogitBias(f),
            Seed = f.Long("seed"),
            MinTokens = minTokens,
            Stop = stop,
            StopTokenIds = f.Ints("stop_token_ids"),
            IgnoreEos = f.Bool("ignore_eos") ?? false,
            Logprobs = logprobs,
            SkipSpecialTokens = f.Bool("skip_special_tokens") ?? true,
            IncludeStopStrInOutput = f.Bool("include_stop_str_in_output") ?? false,
            Output = output,
        };
    }

    /// <summary>The stop strings as given, refusing empty ones and more or longer ones than the limits.</summary>
    public static IReadOnlyList<string> CheckStops(IReadOnlyList<string> stop, string param)
    {
        if (stop.Count > MaxStops)
            throw ApiException.BadRequest($"'{param}' has {stop.Count} stop strings; at most {MaxStops} are allowed.", param);
        for (int i = 0; i < stop.Count; i++)
        {
            if (stop[i].Length == 0) throw ApiException.BadRequest($"'{param}' must not contain an empty string.", param);
            int bytes = System.Text.Encoding.UTF8.GetByteCount(stop[i]);
            if (bytes > MaxStopBytes)
                throw ApiException.BadRequest($"'{param}' string {i} is {bytes} bytes long; at most {MaxStopBytes} bytes are allowed.", param);
        }
        return stop;
    }

    /// <summary>
    /// Fields real clients send that do not change what is generated, accepted and ignored as vLLM does: OpenAI's
    /// store, metadata, user, service_tier, prompt_cache_key, safety_identifier, prediction (a latency hint),
    /// modalities ["text"]; vLLM's priority, request_id and cache_salt (scheduling and cache bookkeeping).
    /// </summary>
    public static readonly string[] OutputNeutralFields =
        ["store", "metadata", "user", "service_tier", "prompt_cache_key", "prompt_cache_retention", "safety_identifier", "prediction",
         "priority", "request_id", "cache_salt"];

    private static void OutputNeutral(RequestFields f)
    {
        foreach (var name in OutputNeutralFields) f.Ignore(name);
        if (f.Raw("modalities") is { } m)
        {
            bool textOnly = m.ValueKind == JsonValueKind.Array && m.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String && x.GetString() == "text");
            if (!textOnly) throw ApiException.BadRequest("'modalities' other than [\"text\"] are not supported: QwenSharp serves text-only models.", "modalities");
            f.Ignore("modalities");
        }
    }

    /// <summary>OpenAI's logit_bias: token ids (as JSON object keys) to a bias in [-100, 100].</summary>
    private static Dictionary<int, double>? ReadLogitBias(RequestFields f)
    {
        if (f.Raw("logit_bias") is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Object) throw f.TypeError("logit_bias", "an object of token id → bias", v);
        var bias = new Dictionary<int, double>();
        foreach (var p in v.EnumerateObject())
        {
            if (!int.TryParse(p.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int id))
                throw ApiException.BadRequest($"'logit_bias' keys must be token ids, got \"{p.Name}\".", "logit_bias");
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetDouble(out double b))
                throw ApiException.BadRequest($"'logit_bias' value for token {id} must be a number, got {RequestFields.DescribeValue(p.Value)}.", "logit_bias");
            if (b is < -100 or > 100)
                throw ApiException.BadRequest($"'logit_bias' value for token {id} must be in [-100, 100], got {b.ToString(CultureInfo.InvariantCulture)}.", "logit_bias");
            bias[id] = b;
        }
        return bias;
    }
}
