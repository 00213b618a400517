using System.Text.Json.Serialization;

namespace QwenSharp.Server.OpenAi;

// Bodies shared by the OpenAI-compatible routes: usage, errors, models, tokenize, version.

public sealed class Usage
{
    public required int PromptTokens { get; init; }
    public required int CompletionTokens { get; init; }
    public int TotalTokens => PromptTokens + CompletionTokens;
    /// <summary>Always present, as the issue asks: tokens served from the prefix cache.</summary>
    public required PromptTokensDetails PromptTokensDetails { get; init; }
}

public sealed class PromptTokensDetails
{
    public required int CachedTokens { get; init; }
}

/// <summary>`{"error": {"message", "type", "param", "code"}}`, as OpenAI and vLLM answer errors.</summary>
public sealed class ErrorResponse
{
    public required ErrorInfo Error { get; init; }
}

public sealed class ErrorInfo
{
    public required string Message { get; init; }
    public required string Type { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Param { get; init; }
    public required int Code { get; init; }
}

public sealed class ModelList
{
    public string Object => "list";
    public required List<ModelCard> Data { get; init; }
}

public sealed class ModelCard
{
    public required string Id { get; init; }
    public string Object => "model";
    public required long Created { get; init; }
    public string OwnedBy => "qwensharp";
    public required string Root { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Parent { get; init; }
    public required int MaxModelLen { get; init; }
}

public sealed class TokenizeResponse
{
    public required int Count { get; init; }
    public required int MaxModelLen { get; init; }
    public required int[] Tokens { get; init; }
    public List<string>? TokenStrs { get; init; }
}

public sealed class DetokenizeResponse
{
    public required string Prompt { get; init; }
}

public sealed class VersionResponse
{
    public required string Version { get; init; }
}
