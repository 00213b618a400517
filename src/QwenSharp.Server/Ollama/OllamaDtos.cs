using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace QwenSharp.Server.Ollama;

// Bodies of Ollama's API (github.com/ollama/ollama docs/api.md): NDJSON chunks for /api/chat and
// /api/generate, the model list, /api/show and errors (`{"error": "..."}`).

public sealed class OllamaChatChunk
{
    public required string Model { get; init; }
    public required string CreatedAt { get; init; }
    public required OllamaMessage Message { get; init; }
    public required bool Done { get; init; }
    public string? DoneReason { get; init; }
    public long? TotalDuration { get; init; }
    public long? LoadDuration { get; init; }
    public int? PromptEvalCount { get; init; }
    public long? PromptEvalDuration { get; init; }
    public int? EvalCount { get; init; }
    public long? EvalDuration { get; init; }
}

public sealed class OllamaMessage
{
    public required string Role { get; init; }
    public required string Content { get; init; }
    /// <summary>Ollama's calls: arguments as an object, not a JSON string as OpenAI's.</summary>
    public List<OllamaToolCall>? ToolCalls { get; init; }
}

public sealed class OllamaToolCall
{
    public required OllamaFunctionCall Function { get; init; }
}

public sealed class OllamaFunctionCall
{
    public required int Index { get; init; }
    public required string Name { get; init; }
    public required System.Text.Json.Nodes.JsonNode Arguments { get; init; }
}

public sealed class OllamaGenerateChunk
{
    public required string Model { get; init; }
    public required string CreatedAt { get; init; }
    public required string Response { get; init; }
    public required bool Done { get; init; }
    public string? DoneReason { get; init; }
    /// <summary>Prompt plus response ids, which a client may send back as `context` to continue.</summary>
    public int[]? Context { get; init; }
    public long? TotalDuration { get; init; }
    public long? LoadDuration { get; init; }
    public int? PromptEvalCount { get; init; }
    public long? PromptEvalDuration { get; init; }
    public int? EvalCount { get; init; }
    public long? EvalDuration { get; init; }
}

public sealed class OllamaTags
{
    public required List<OllamaModel> Models { get; init; }
}

public sealed class OllamaModel
{
    public required string Name { get; init; }
    public required string Model { get; init; }
    public required string ModifiedAt { get; init; }
    public required long Size { get; init; }
    public required string Digest { get; init; }
    public required OllamaDetails Details { get; init; }
}

public sealed class OllamaDetails
{
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string ParentModel { get; init; } = "";
    public required string Format { get; init; }
    public required string Family { get; init; }
    public required string[] Families { get; init; }
    public required string ParameterSize { get; init; }
    public required string QuantizationLevel { get; init; }
}

public sealed class OllamaShow
{
    public required string Modelfile { get; init; }
    public required string Parameters { get; init; }
    public required string Template { get; init; }
    public required OllamaDetails Details { get; init; }
    public required JsonObject ModelInfo { get; init; }
    public required string[] Capabilities { get; init; }
    public required string ModifiedAt { get; init; }
}

public sealed class OllamaVersion
{
    public required string Version { get; init; }
}

public sealed class OllamaError
{
    public required string Error { get; init; }
}
