namespace QwenSharp.Generation;

/// <summary>
/// A finished sequence: its text (stop string removed unless include_stop_str_in_output), the generated ids
/// (the stopping eos or stop token included, as vLLM), why it ended and what ended it, token counts for usage,
/// and the parameters and seed it was sampled with.
/// </summary>
public sealed record GenerationResult
{
    public required string Text { get; init; }
    public required IReadOnlyList<int> TokenIds { get; init; }
    public required FinishReason FinishReason { get; init; }
    /// <summary>The stop string that matched, if one did.</summary>
    public string? StopString { get; init; }
    /// <summary>The eos or stop_token_ids id that ended the sequence, if one did.</summary>
    public int? StopTokenId { get; init; }
    public required int PromptTokens { get; init; }
    public required int CompletionTokens { get; init; }
    /// <summary>The seed the generator actually used (drawn at random when the request gave none).</summary>
    public required long Seed { get; init; }
    public required ResolvedSamplingParams Parameters { get; init; }
    /// <summary>One entry per generated token when logprobs were asked for, otherwise null.</summary>
    public IReadOnlyList<TokenLogprob>? Logprobs { get; init; }

    /// <summary>This result as JSON with snake_case names.</summary>
    public string ToJson() => System.Text.Json.JsonSerializer.Serialize(this, GenerationJsonContext.Default.GenerationResult);
}
