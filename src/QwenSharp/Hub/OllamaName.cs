namespace QwenSharp.Hub;

/// <summary>
/// An Ollama model name, `[host/][namespace/]model[:tag]`, with Ollama's defaults filled in:
/// `qwen2` is `registry.ollama.ai/library/qwen2:latest`; `hf.co/bartowski/Qwen2-GGUF:Q4_K_M` keeps its host.
/// </summary>
public sealed record OllamaName(string Host, string Namespace, string Model, string Tag)
{
    public const string DefaultHost = "registry.ollama.ai";

    public static OllamaName Parse(string text)
    {
        string rest = text.Trim();
        string tag = "latest";
        int colon = rest.LastIndexOf(':');
        if (colon > rest.LastIndexOf('/'))
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
        }
        string[] parts = rest.Split('/');
        if (tag.Length == 0 || parts.Any(p => p.Length == 0 || p is "." or ".." || p.Contains('\\')) || parts.Length > 3)
            throw new HubException($"'{text}' is not a valid Ollama model name: expected [host/][namespace/]model[:tag], such as qwen2:7b.");
        return parts.Length switch
        {
            1 => new OllamaName(DefaultHost, "library", parts[0], tag),
            2 => new OllamaName(DefaultHost, parts[0], parts[1], tag),
            _ => new OllamaName(parts[0], parts[1], parts[2], tag),
        };
    }

    /// <summary>The manifest's path under the store's `manifests` folder (Ollama's layout).</summary>
    public string ManifestRelativePath => Path.Combine(Host, Namespace, Model, Tag);

    /// <summary>The short form Ollama prints: `qwen2:7b` for the library, the full name otherwise.</summary>
    public override string ToString() =>
        Host == DefaultHost && Namespace == "library" ? $"{Model}:{Tag}"
        : Host == DefaultHost ? $"{Namespace}/{Model}:{Tag}"
        : $"{Host}/{Namespace}/{Model}:{Tag}";
}
