namespace QwenSharp.Text.ToolCalls;

/// <summary>A request's <c>tools</c> or <c>tool_choice</c> is invalid; <see cref="Exception.Message"/> is one
/// sentence naming the value and the rule (for a 400 response).</summary>
public sealed class ToolRequestException(string message, string param) : Exception(message)
{
    /// <summary>Where in the request the fault is, e.g. "tools[1].function.name" (OpenAI's error "param").</summary>
    public string Param { get; } = param;
}
