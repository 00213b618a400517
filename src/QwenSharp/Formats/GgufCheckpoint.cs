using QwenSharp.Tensors;

namespace QwenSharp.Formats;

/// <summary>
/// A GGUF file as a weight source under Hugging Face tensor names (blk.0.attn_q.weight is served as
/// model.layers.0.self_attn.q_proj.weight), so model code knows one naming only. Tensors outside the qwen2
/// mapping keep their GGUF names, so a loader can report them. <see cref="File"/> gives the metadata.
/// A stack of expert matrices (blk.N.ffn_up_exps.weight, [n_expert, rows, cols]) is served as one 2-D view per expert
/// under the Hugging Face name of that expert's matrix, each a slice of the stack's bytes.
/// </summary>
public sealed unsafe class GgufCheckpoint : IWeightSource
{
    private readonly Dictionary<string, TensorView> _tensors;

    private GgufCheckpoint(GgufFile file, Dictionary<string, TensorView> tensors)
    {
        File = file;
        _tensors = tensors;
    }

    public GgufFile File { get; }
    public string Origin => File.Path;
    public IReadOnlyCollection<string> TensorNames => _tensors.Keys;
    public bool Contains(string name) => _tensors.ContainsKey(name);

    public TensorView Get(string name) =>
        _tensors.TryGetValue(name, out var view) ? view
        : throw new FormatException($"{Origin} has no tensor {(GgufNames.TryToGguf(name, out string gguf) ? gguf : name)} (Hugging Face name {name}).");

    public static GgufCheckpoint Open(string path)
    {
        var file = GgufFile.Open(path);
        try
        {
            return FromFile(file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Wraps an open file; the checkpoint owns it from then on.</summary>
    public static GgufCheckpoint FromFile(GgufFile file)
    {
        var tensors = new Dictionary<string, TensorView>(StringComparer.Ordinal);
        foreach (var view in file.Tensors)
        {
            if (GgufNames.TryExpertStack(view.Name, out int layer, out string projection) && view.Shape.Length == 3)
            {
                long experts = view.Shape[0], sliceBytes = view.ByteLength / Math.Max(experts, 1);
                for (int e = 0; e < experts; e++)
                {
                    string expert = GgufNames.ExpertName(layer, e, projection);
                    if (!tensors.TryAdd(expert, new TensorView(expert, view.Type, [view.Shape[1], view.Shape[2]], view.Pointer + e * sliceBytes, sliceBytes)))
                        throw new FormatException($"{file.Path}: tensor {view.Name} and another tensor both map to {expert}.");
                }
                continue;
            }
            string name = GgufNames.TryToHuggingFace(view.Name, out string hf) ? hf : view.Name;
            // The same bytes under the Hugging Face name, so messages from model code name what it asked for.
            if (!tensors.TryAdd(name, name == view.Name ? view : new TensorView(name, view.Type, view.Shape, view.Pointer, view.ByteLength)))
                throw new FormatException($"{file.Path}: tensor {view.Name} and another tensor both map to {name}.");
        }
        return new GgufCheckpoint(file, tensors);
    }

    public void Dispose() => File.Dispose();

    public override string ToString() => Origin;
}
