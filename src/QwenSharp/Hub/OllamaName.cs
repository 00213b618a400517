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
        if (parts.Length > 3)
            throw new HubException($"'{CacheNames.Shown(text)}' is not a valid Ollama model name: it has {parts.Length} '/'-separated parts where [host/][namespace/]model[:tag] has at most 3, such as qwen2:7b.");
        var name = parts.Length switch
        {
            1 => new OllamaName(DefaultHost, "library", parts[0], tag),
            2 => new OllamaName(DefaultHost, parts[0], parts[1], tag),
            _ => new OllamaName(parts[0], parts[1], parts[2], tag),
        };
        // Every part is a folder or file name under manifests/, the tag included.
        foreach (var (role, part) in new[] { ("host", name.Host), ("namespace", name.Namespace), ("model", name.Model), ("tag", name.Tag) })
            if (PartProblem(part, role == "namespace") is { } problem)
                throw new HubException($"'{CacheNames.Shown(text)}' is not a valid Ollama model name: its {role} '{CacheNames.Shown(part)}' {problem}; expected [host/][namespace/]model[:tag], such as qwen2:7b.");
        return name;
    }

    /// <summary>Ollama's rule for each part of a name (types/model/name.go): 1 to 128 of letters, digits, '_',
    /// '-' and '.' ('.' not in the namespace), and never two dots in a row, so no part is "." or "..".</summary>
    private static string? PartProblem(string part, bool isNamespace)
    {
        if (part.Length == 0) return "is empty";
        if (part.Length > MaxPartLength) return $"is {part.Length} characters long, over Ollama's {MaxPartLength}";
        foreach (char c in part)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' || (c == '.' && !isNamespace)))
                return $"has the character '{CacheNames.Shown(c.ToString())}', where only letters, digits, '_', '-'{(isNamespace ? "" : " and '.'")} are allowed";
        if (part == "." || part.Contains("..", StringComparison.Ordinal)) return "is '.' or has '..', which would leave its folder";
        return null;
    }

    private const int MaxPartLength = 128;

    /// <summary>The manifest's path under the store's `manifests` folder (Ollama's layout).</summary>
    public string ManifestRelativePath => Path.Combine(Host, Namespace, Model, Tag);

    /// <summary>The short form Ollama prints: `qwen2:7b` for the library, the full name otherwise.</summary>
    public override string ToString() =>
        Host == DefaultHost && Namespace == "library" ? $"{Model}:{Tag}"
        : Host == DefaultHost ? $"{Namespace}/{Model}:{Tag}"
        : $"{Host}/{Namespace}/{Model}:{Tag}";
}
