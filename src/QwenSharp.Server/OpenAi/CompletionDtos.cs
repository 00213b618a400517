using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace QwenSharp.Server.OpenAi;

// The response bodies of POST /v1/completions (OpenAI's legacy completions), the same object for whole
// responses and stream chunks, with the legacy logprobs shape (tokens, token_logprobs, top_logprobs, text_offset).

public sealed class CompletionResponse
{
    public required string Id { get; init; }
    public string Object => "text_completion";
    public required long Created { get; init; }
    public required string Model { get; init; }
    public required List<CompletionChoice> Choices { get; init; }
    public Usage? Usage { get; init; }
    public JsonObject? SamplingParams { get; set; }
}

public sealed class CompletionChoice
{
    public required int Index { get; init; }
    public required string Text { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public CompletionLogprobs? Logprobs { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? FinishReason { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public JsonNode? StopReason { get; set; }
}

public sealed class CompletionLogprobs
{
    public List<int> TextOffset { get; init; } = [];
    public List<double> TokenLogprobs { get; init; } = [];
    public List<string> Tokens { get; init; } = [];
    public List<Dictionary<string, double>> TopLogprobs { get; init; } = [];
}
