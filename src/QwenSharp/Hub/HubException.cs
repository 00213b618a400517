namespace QwenSharp.Hub;

/// <summary>A model could not be found or fetched, for a reason the person can act on; the message is one
/// sentence naming the model, the place looked at and what to do.</summary>
public sealed class HubException(string message, Exception? inner = null) : Exception(message, inner);
