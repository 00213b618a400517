namespace QwenSharp.Hub;

/// <summary>A model found on disk: what a loader opens, and where it came from.</summary>
public sealed record LocatedModel
{
    /// <summary>A safetensors model folder (config.json, tokenizer, weights) or a GGUF file. Ollama's GGUF blobs
    /// have no .gguf extension: use <see cref="IsGguf"/>, not the name.</summary>
    public required string Path { get; init; }

    public required bool IsGguf { get; init; }

    public required ModelSource Source { get; init; }

    /// <summary>The name as resolved, e.g. "Qwen/Qwen2-7B-Instruct-GGUF:q4_k_m" or "qwen2:7b".</summary>
    public required string Name { get; init; }

    /// <summary>The branch, tag or commit asked for (Hub: "main" by default, ModelScope: "master").</summary>
    public string? Revision { get; init; }

    /// <summary>The Hub commit the snapshot belongs to.</summary>
    public string? Commit { get; init; }

    /// <summary>The model's files relative to the snapshot folder (Hub, ModelScope).</summary>
    public IReadOnlyList<string> Files { get; init; } = [];

    /// <summary>True when this call downloaded something.</summary>
    public bool Downloaded { get; init; }

    /// <summary>For Ollama models: the template, params and system layers of the manifest.</summary>
    public OllamaModelInfo? Ollama { get; init; }

    /// <summary>One line for logs: "Qwen/Qwen2-7B-Instruct (Hugging Face, commit 1a2b3c4d): /path".</summary>
    public string Describe()
    {
        string source = Source switch
        {
            ModelSource.HuggingFace => "Hugging Face" + (Commit != null ? $", commit {Commit[..Math.Min(8, Commit.Length)]}" : ""),
            ModelSource.ModelScope => "ModelScope" + (Revision != null ? $", {Revision}" : ""),
            ModelSource.Ollama => "Ollama store",
            _ => "local " + (IsGguf ? "GGUF file" : "folder"),
        };
        return $"{Name} ({source}): {Path}";
    }
}
