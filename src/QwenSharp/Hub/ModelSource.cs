namespace QwenSharp.Hub;

/// <summary>Where a located model's files came from.</summary>
public enum ModelSource
{
    /// <summary>A folder or .gguf file named by its path.</summary>
    LocalPath,
    /// <summary>A Hugging Face repo, from huggingface_hub's cache (downloaded into it when missing).</summary>
    HuggingFace,
    /// <summary>A ModelScope repo (`modelscope:org/name`), from the ModelScope cache.</summary>
    ModelScope,
    /// <summary>A model in Ollama's store, its GGUF blob read in place.</summary>
    Ollama,
}
