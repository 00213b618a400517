namespace QwenSharp.Generation;

/// <summary>
/// Sampling parameters with every value decided and checked (see <see cref="SamplingParams.Resolve"/>):
/// what the sampler uses and what a caller reports (serializable with <see cref="GenerationJsonContext"/>,
/// snake_case names as vLLM's).
/// </summary>
public sealed record ResolvedSamplingParams
{
    /// <summary>0 (below 1e-5) means greedy; otherwise at least 0.01.</summary>
    public required double Temperature { get; init; }
    /// <summary>-1 when off.</summary>
    public required int TopK { get; init; }
    public required double TopP { get; init; }
    public required double MinP { get; init; }
    public required double RepetitionPenalty { get; init; }
    public required double PresencePenalty { get; init; }
    public required double FrequencyPenalty { get; init; }
    /// <summary>Token id to bias, each within [-100, 100].</summary>
    public required IReadOnlyDictionary<int, double> LogitBias { get; init; }
    /// <summary>The requested seed; null when the generator was seeded at random.</summary>
    public required long? Seed { get; init; }
    public required int MaxTokens { get; init; }
    /// <summary>True when max_tokens was not asked for (nor set by generation_config) and is the room left in the context:
    /// the sequence's length is open, which a length-aware rope choice treats differently from an asked-for bound.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool MaxTokensIsContextRoom { get; init; }
    public required int MinTokens { get; init; }
    public required IReadOnlyList<string> Stop { get; init; }
    public required IReadOnlyList<int> StopTokenIds { get; init; }
    /// <summary>The model's end-of-sequence ids (from generation_config.json); they stop unless <see cref="IgnoreEos"/>.</summary>
    public required IReadOnlyList<int> EosTokenIds { get; init; }
    public required bool IgnoreEos { get; init; }
    /// <summary>Alternatives reported per chosen token; null when logprobs are not asked for.</summary>
    public required int? Logprobs { get; init; }
    public required int N { get; init; }
    public required bool SkipSpecialTokens { get; init; }
    public required bool IncludeStopStrInOutput { get; init; }

    /// <summary>The grammar every output must follow (structured output, tool calls); null when unconstrained.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Grammar.CompiledGrammar? Grammar { get; init; }

    /// <summary>What the grammar came from, as vLLM names it ("json", "regex", "choice", "grammar", "json_object", "tool_calls"); null when unconstrained.</summary>
    public string? StructuredOutput { get; init; }

    /// <summary>True when tokens are chosen by argmax (temperature below vLLM's 1e-5).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsGreedy => Temperature < SamplingParams.GreedyEpsilon;

    /// <summary>
    /// Refuses token ids the model does not have (vLLM answers such logit_bias or stop_token_ids with a 400),
    /// naming the parameter, the id and the valid range. <paramref name="isToken"/>, when given, also refuses ids
    /// inside the range that name no token (the padding rows between the tokenizer's size and the embedding's).
    /// </summary>
    public void CheckVocabulary(int vocabularySize, Func<int, bool>? isToken = null)
    {
        foreach (int id in LogitBias.Keys) Check(id, "logit_bias");
        foreach (int id in StopTokenIds) Check(id, "stop_token_ids");

        void Check(int id, string param)
        {
            if ((uint)id >= (uint)vocabularySize || (isToken != null && !isToken(id)))
                throw new SamplingParameterException(param, $"{param} token id {id} is not a token of this model (ids 0 to {vocabularySize - 1}).");
        }
    }

    /// <summary>This record as JSON with vLLM's snake_case names.</summary>
    public string ToJson() => System.Text.Json.JsonSerializer.Serialize(this, GenerationJsonContext.Default.ResolvedSamplingParams);
}
