using QwenSharp.Formats;

namespace QwenSharp.Generation;

/// <summary>
/// What a request asks of sampling, with vLLM's names and meanings (vllm/sampling_params.py). Every value is
/// optional: <see cref="Resolve"/> fills an unset one from the model's generation_config.json, then from
/// vLLM's default, and checks the ranges, giving the <see cref="ResolvedSamplingParams"/> the sampler uses.
/// </summary>
public sealed record SamplingParams
{
    /// <summary>Softmax temperature; 0 means greedy (argmax). vLLM default 1.</summary>
    public double? Temperature { get; init; }
    /// <summary>Keep the k most likely tokens; -1 or 0 keeps all. vLLM default -1.</summary>
    public int? TopK { get; init; }
    /// <summary>Keep the smallest set of most likely tokens whose probability reaches top_p, in (0, 1]. vLLM default 1.</summary>
    public double? TopP { get; init; }
    /// <summary>Drop tokens whose probability is below min_p times the most likely one's, in [0, 1]. vLLM default 0.</summary>
    public double? MinP { get; init; }
    /// <summary>HF's multiplicative penalty over prompt and output tokens (&gt; 1 discourages repeats). vLLM default 1.</summary>
    public double? RepetitionPenalty { get; init; }
    /// <summary>Subtracted once from the logit of every token already in the output, in [-2, 2]. Default 0.</summary>
    public double? PresencePenalty { get; init; }
    /// <summary>Subtracted per occurrence from the logit of tokens in the output, in [-2, 2]. Default 0.</summary>
    public double? FrequencyPenalty { get; init; }
    /// <summary>Added to the logit of a token id; clamped to [-100, 100] as OpenAI and vLLM do.</summary>
    public IReadOnlyDictionary<int, double>? LogitBias { get; init; }
    /// <summary>Seed of the sequence's random generator; null (or -1, as vLLM) draws a random one.</summary>
    public long? Seed { get; init; }
    /// <summary>Most tokens to generate. vLLM default 16 when neither the request nor the model sets it.</summary>
    public int? MaxTokens { get; init; }
    /// <summary>Tokens to generate before eos or stop_token_ids may end the sequence. Default 0.</summary>
    public int? MinTokens { get; init; }
    /// <summary>Strings that end the sequence; they are not part of the output unless include_stop_str_in_output.</summary>
    public IReadOnlyList<string>? Stop { get; init; }
    /// <summary>Token ids that end the sequence, besides the model's eos ids.</summary>
    public IReadOnlyList<int>? StopTokenIds { get; init; }
    /// <summary>Keep generating past eos ids (stop_token_ids still stop).</summary>
    public bool? IgnoreEos { get; init; }
    /// <summary>
    /// How many alternatives to report with each chosen token's logprob (vLLM's logprobs, 0..20); null reports none.
    /// OpenAI chat's logprobs=true with top_logprobs=N maps to N.
    /// </summary>
    public int? Logprobs { get; init; }
    /// <summary>Number of sequences to generate for the prompt. Default 1.</summary>
    public int? N { get; init; }
    /// <summary>Leave special tokens out of the text (default true); honoured by the decoder the caller builds.</summary>
    public bool? SkipSpecialTokens { get; init; }
    /// <summary>Keep a matched stop string at the end of the output text. Default false.</summary>
    public bool? IncludeStopStrInOutput { get; init; }

    /// <summary>vLLM clamps temperatures in (0, 0.01) up to 0.01 to avoid inf/nan in the softmax.</summary>
    public const double MinimumTemperature = 0.01;
    /// <summary>Below this temperature vLLM samples greedily (_SAMPLING_EPS).</summary>
    public const double GreedyEpsilon = 1e-5;
    /// <summary>vLLM's default max_logprobs (and OpenAI's top_logprobs limit).</summary>
    public const int MaxLogprobs = 20;
    /// <summary>vLLM's SamplingParams default max_tokens.</summary>
    public const int DefaultMaxTokens = 16;

    /// <summary>Reads a vLLM-style JSON object ({"temperature": 0.2, "top_k": 5, "stop": ["\n"], "logit_bias": {"42": -5}, …}).
    /// Malformed JSON or a value of the wrong type throws <see cref="FormatException"/> saying where.</summary>
    public static SamplingParams FromJson(string json)
    {
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize(json, GenerationJsonContext.Default.SamplingParams)
                ?? throw new FormatException("Sampling parameters must be a JSON object, not null.");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new FormatException($"Sampling parameters are not valid: {e.Message}", e);
        }
    }

    /// <summary>
    /// Fills unset values from <paramref name="config"/> (temperature, top_p, top_k, min_p, repetition_penalty,
    /// max_new_tokens, eos ids, as vLLM's generation-config defaults do), then from vLLM's defaults, and checks
    /// every range. HF's do_sample=false makes the default temperature 0 (greedy), as transformers would.
    /// <paramref name="defaultMaxTokens"/> is the caller's fallback for max_tokens (e.g. the room left in the
    /// context); <paramref name="fallbackEosTokenIds"/> are used when the config names no eos (e.g. the tokenizer's).
    /// Throws <see cref="SamplingParameterException"/> naming the parameter, its value and the allowed range.
    /// </summary>
    public ResolvedSamplingParams Resolve(GenerationConfig? config = null, int? defaultMaxTokens = null,
        IReadOnlyList<int>? fallbackEosTokenIds = null)
    {
        double temperature = Temperature ?? config?.Temperature ?? 1.0;
        if (Temperature is null && config?.DoSample == false) temperature = 0;
        int topK = TopK ?? config?.TopK ?? -1;
        double topP = TopP ?? config?.TopP ?? 1.0;
        double minP = MinP ?? config?.MinP ?? 0.0;
        double repetition = RepetitionPenalty ?? config?.RepetitionPenalty ?? 1.0;
        double presence = PresencePenalty ?? 0.0;
        double frequency = FrequencyPenalty ?? 0.0;
        int maxTokens = MaxTokens ?? config?.MaxNewTokens ?? defaultMaxTokens ?? DefaultMaxTokens;
        int minTokens = MinTokens ?? 0;
        int n = N ?? 1;
        long? seed = Seed == -1 ? null : Seed;

        Check(nameof(n), n >= 1, $"n must be at least 1, got {n}.");
        Check("presence_penalty", presence is >= -2 and <= 2, $"presence_penalty must be in [-2, 2], got {Format(presence)}.");
        Check("frequency_penalty", frequency is >= -2 and <= 2, $"frequency_penalty must be in [-2, 2], got {Format(frequency)}.");
        Check("repetition_penalty", repetition > 0 && double.IsFinite(repetition), $"repetition_penalty must be greater than 0, got {Format(repetition)}.");
        Check("temperature", temperature >= 0 && double.IsFinite(temperature), $"temperature must be a non-negative number, got {Format(temperature)}.");
        Check("top_p", topP is > 0 and <= 1, $"top_p must be in (0, 1], got {Format(topP)}.");
        Check("top_k", topK >= -1, $"top_k must be -1 or 0 (disabled) or at least 1, got {topK}.");
        Check("min_p", minP is >= 0 and <= 1, $"min_p must be in [0, 1], got {Format(minP)}.");
        Check("max_tokens", maxTokens >= 1, $"max_tokens must be at least 1, got {maxTokens}.");
        Check("min_tokens", minTokens >= 0, $"min_tokens must be at least 0, got {minTokens}.");
        Check("min_tokens", minTokens <= maxTokens, $"min_tokens must be at most max_tokens={maxTokens}, got {minTokens}.");
        if (Logprobs is int logprobs)
            Check("logprobs", logprobs is >= 0 and <= MaxLogprobs, $"logprobs must be in [0, {MaxLogprobs}], got {logprobs}.");

        var stop = Stop ?? [];
        foreach (var s in stop)
            Check("stop", !string.IsNullOrEmpty(s), "stop cannot contain an empty string.");
        var stopTokenIds = StopTokenIds ?? [];
        foreach (int id in stopTokenIds)
            Check("stop_token_ids", id >= 0, $"stop_token_ids must be non-negative token ids, got {id}.");

        var bias = new SortedDictionary<int, double>();
        if (LogitBias is not null)
            foreach (var (id, value) in LogitBias)
            {
                Check("logit_bias", id >= 0, $"logit_bias keys must be non-negative token ids, got {id}.");
                Check("logit_bias", !double.IsNaN(value), $"logit_bias for token {id} must be a number, got NaN.");
                bias[id] = Math.Clamp(value, -100, 100);
            }

        if (temperature > 0 && temperature < MinimumTemperature) temperature = MinimumTemperature;
        if (temperature < GreedyEpsilon)
        {
            // Greedy: the filters cannot change the argmax, so vLLM switches them off and reports them off.
            topP = 1.0;
            topK = -1;
            minP = 0.0;
        }
        if (topK == 0) topK = -1;

        var eos = config is { EosTokenIds.Count: > 0 } ? config.EosTokenIds : fallbackEosTokenIds ?? [];

        return new ResolvedSamplingParams
        {
            Temperature = temperature,
            TopK = topK,
            TopP = topP,
            MinP = minP,
            RepetitionPenalty = repetition,
            PresencePenalty = presence,
            FrequencyPenalty = frequency,
            LogitBias = bias,
            Seed = seed,
            MaxTokens = maxTokens,
            MaxTokensIsContextRoom = MaxTokens is null && config?.MaxNewTokens is null && defaultMaxTokens is not null,
            MinTokens = minTokens,
            Stop = [.. stop],
            StopTokenIds = [.. stopTokenIds.Distinct()],
            EosTokenIds = [.. eos.Distinct()],
            IgnoreEos = IgnoreEos ?? false,
            Logprobs = Logprobs,
            N = n,
            SkipSpecialTokens = SkipSpecialTokens ?? true,
            IncludeStopStrInOutput = IncludeStopStrInOutput ?? false,
        };
    }

    private static void Check(string parameter, bool ok, string message)
    {
        if (!ok) throw new SamplingParameterException(parameter, message);
    }

    private static string Format(double value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}
