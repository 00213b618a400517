namespace QwenSharp.Generation;

/// <summary>
/// A sampling parameter outside its allowed range. <see cref="Exception.Message"/> is one sentence naming the
/// parameter, the value and the range (vLLM's wording), without the "(Parameter 'x')" suffix
/// <see cref="ArgumentException"/> would append, so a server can return it as is.
/// </summary>
public sealed class SamplingParameterException(string parameter, string message) : ArgumentException(message, parameter)
{
    public override string Message { get; } = message;
}
