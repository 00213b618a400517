namespace QwenSharp.Engine;

/// <summary>
/// The engine could not finish a request for a reason of its own (a forward or sampling step threw, or the loop
/// stopped after an internal error). Not the client's fault: a server answers 500 and logs
/// <see cref="Exception.InnerException"/>.
/// </summary>
public sealed class EngineFailedException(string message, Exception? inner = null) : Exception(message, inner);
