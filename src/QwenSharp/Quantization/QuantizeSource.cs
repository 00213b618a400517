using QwenSharp.Formats;
using QwenSharp.Tensors;

namespace QwenSharp.Quantization;

/// <summary>
/// What a quantization reads: metadata in order and tensors under their GGUF names. A GGUF file gives its own; a
/// Hugging Face folder gives what llama.cpp's converter would have written for it (<see cref="HfFolder"/>): vectors and
/// MoE routers stored as F32, a MoE layer's per-expert matrices stacked into one [n_expert, rows, cols] tensor per
/// projection and the shared expert's [1, hidden] gate as a vector.
/// </summary>
public sealed class QuantizeSource : IDisposable
{
    private readonly IDisposable _owner;

    private QuantizeSource(IDisposable owner, IReadOnlyList<(string Key, object Value)> metadata,
        IReadOnlyList<QuantizeTensor> tensors, bool vectorsToF32)
    {
        _owner = owner;
        Metadata = metadata;
        Tensors = tensors;
        VectorsToF32 = vectorsToF32;
    }

    public IReadOnlyList<(string Key, object Value)> Metadata { get; }
    public IReadOnlyList<QuantizeTensor> Tensors { get; }
    /// <summary>Vectors and MoE routers (ffn_gate_inp) are written as F32, as convert_hf_to_gguf.py writes them.</summary>
    public bool VectorsToF32 { get; }
    /// <summary>The files the tensors are mapped from (an output must not be one of them).</summary>
    public IReadOnlyList<string> Files { get; private init; } = [];

    public static QuantizeSource Open(string path)
    {
        if (Directory.Exists(path)) return OpenFolder(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Input {path} does not exist (give a GGUF file or a Hugging Face model folder).");
        var gguf = GgufFile.Open(path);
        return new QuantizeSource(gguf,
            gguf.Metadata.Keys.Select(k => (k, gguf.Metadata.GetValue(k))).ToList(),
            gguf.Tensors.Select(t => new QuantizeTensor(t.Name, t.Type, t.Shape, [t])).ToList(), vectorsToF32: false) { Files = [path] };
    }

    private static QuantizeSource OpenFolder(string folder)
    {
        var hf = HfFolder.Open(folder);
        try
        {
            // The metadata the converter would have written; the quantizer then sets file_type and quantization_version.
            var writer = new GgufWriter();
            hf.WriteMetadata(writer, hf.GuessedFileType);
            return new QuantizeSource(hf, writer.Keys.Select(k => (k, writer.Get(k))).ToList(), hf.Tensors, vectorsToF32: true)
            {
                Files = hf.Files.ToList(),
            };
        }
        catch
        {
            hf.Dispose();
            throw;
        }
    }

    public void Dispose() => _owner.Dispose();
}

/// <summary>One tensor of a quantization's input: type and shape (outermost first) and its bytes as one or more views
/// laid end to end (a stack of expert matrices read from a Hugging Face folder is one view per expert).</summary>
public sealed record QuantizeTensor(string Name, GgmlType Type, long[] Shape, IReadOnlyList<TensorView> Parts)
{
    public long Columns => Shape[^1];
    public long Rows => Shape[..^1].Aggregate(1L, (a, b) => a * b);
}
