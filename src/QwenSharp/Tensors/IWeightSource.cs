namespace QwenSharp.Tensors;

/// <summary>
/// Named tensors from one checkpoint (a safetensors folder or a GGUF file), memory-mapped.
/// Disposing unmaps the files; every <see cref="TensorView"/> taken from it is dead afterwards.
/// </summary>
public interface IWeightSource : IDisposable
{
    /// <summary>Where the tensors come from (a folder or a file), for messages.</summary>
    string Origin { get; }
    IReadOnlyCollection<string> TensorNames { get; }
    bool Contains(string name);
    /// <summary>The tensor of that name; throws <see cref="FormatException"/> naming the origin when it is absent.</summary>
    TensorView Get(string name);
}
