namespace QwenSharp.Server.Backend;

/// <summary>Creates the backend `qwensharp serve` runs on: the one place that connects the server to the engine.</summary>
public static class ModelBackendFactory
{
    public static IModelBackend Create(ServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        throw new InvalidOperationException(
            $"Serving '{options.Model}' is not wired yet: the engine backend for QwenSharp.Server has not been connected in this build.");
    }
}
