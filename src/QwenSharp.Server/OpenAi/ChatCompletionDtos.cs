using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace QwenSharp.Server.OpenAi;

// The response bodies of POST /v1/chat/completions, in OpenAI's shape (platform.openai.com/docs/api-reference/chat)
// plus vLLM's extras (stop_reason) and ours (sampling_params: the parameters after defaults were applied).

public sealed class ChatCompletionResponse
{
    public required string Id { get; init; }
    public string Object => "chat.completion";
    public required long Created { get; init; }
    public required string Model { get; init; }
    public required List<ChatChoice> Choices { get; init; }
    public required Usage Usage { get; init; }
    public JsonObject? SamplingParams { get; set; }
}

public sealed class ChatChoice
{
    public required int Index { get; init; }
    public required ChatMessageOut Message { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public ChatLogprobs? Logprobs { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? FinishReason { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public JsonNode? StopReason { get; set; }
}

public sealed class ChatMessageOut
{
    public required string Role { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Content { get; set; }
    /// <summary>The calls the model made (finish_reason "tool_calls"); absent when it made none, as OpenAI omits it.</summary>
    public List<ToolCallOut>? ToolCalls { get; set; }
}

/// <summary>OpenAI's tool call: id "call_…", type "function", the function's name and its arguments as a JSON string.</summary>
public sealed class ToolCallOut
{
    public required string Id { get; init; }
    public string Type => "function";
    public required FunctionCallOut Function { get; init; }
}

public sealed class FunctionCallOut
{
    public required string Name { get; init; }
    public required string Arguments { get; init; }
}

/// <summary>One streamed piece of a tool call: the first carries index, id, type and name; later ones argument fragments.</summary>
public sealed class ToolCallDelta
{
    public required int Index { get; init; }
    public string? Id { get; init; }
    public string? Type { get; init; }
    public required FunctionCallDelta Function { get; init; }
}

public sealed class FunctionCallDelta
{
    public string? Name { get; init; }
    public string? Arguments { get; init; }
}

public sealed class ChatLogprobs
{
    public List<ChatTokenLogprob> Content { get; init; } = [];
}

public sealed class ChatTokenLogprob
{
    public required string Token { get; init; }
    public required double Logprob { get; init; }
    /// <summary>UTF-8 bytes as a list of integers (OpenAI's shape), not base64.</summary>
    public required int[] Bytes { get; init; }
    public required List<ChatTopLogprob> TopLogprobs { get; init; }
}

public sealed class ChatTopLogprob
{
    public required string Token { get; init; }
    public required double Logprob { get; init; }
    public required int[] Bytes { get; init; }
}

public sealed class ChatCompletionChunk
{
    public required string Id { get; init; }
    public string Object => "chat.completion.chunk";
    public required long Created { get; init; }
    public required string Model { get; init; }
    public required List<ChatChunkChoice> Choices { get; init; }
    public Usage? Usage { get; init; }
    public JsonObject? SamplingParams { get; init; }
}

public sealed class ChatChunkChoice
{
    public required int Index { get; init; }
    public required ChatDelta Delta { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public ChatLogprobs? Logprobs { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? FinishReason { get; init; }
    public JsonNode? StopReason { get; init; }
}

public sealed class ChatDelta
{
    public string? Role { get; init; }
    public string? Content { get; init; }
    public List<ToolCallDelta>? ToolCalls { get; init; }
}
