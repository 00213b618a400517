namespace QwenSharp.Engine;

/// <summary>
/// A request that can never run: it asks for more tokens than one sequence may hold. Thrown at submit, before
/// anything is queued, so the server can answer 400 with <see cref="Exception.Message"/>.
/// </summary>
public sealed class RequestRefusedException(string message, int promptTokens, int maxTokens, int limit)
    : ArgumentException(message)
{
    public int PromptTokens { get; } = promptTokens;
    public int MaxTokens { get; } = maxTokens;

    /// <summary>The limit exceeded, in tokens (the max model length or the whole KV cache).</summary>
    public int Limit { get; } = limit;
}
