using QwenSharp.Formats;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Quantization;

/// <summary>
/// What a quantization reads: metadata in order and tensors under their GGUF names. A GGUF file gives its own; a
/// Hugging Face folder (config.json, tokenizer.json, safetensors in f32/f16/bf16, sharded or not) gives the
/// metadata and names our GGUF writer gives a Qwen2 model (<see cref="GgufNames"/>, <see cref="GgufTokenizerExport"/>),
/// with vectors and MoE routers stored as F32 as llama.cpp's converter stores them, a MoE layer's per-expert matrices
/// stacked into one [n_expert, rows, cols] tensor per projection and the shared expert's [1, hidden] gate as a vector.
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

    public static QuantizeSource Open(string path)
    {
        if (Directory.Exists(path)) return OpenFolder(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Input {path} does not exist (give a GGUF file or a Hugging Face model folder).");
        var gguf = GgufFile.Open(path);
        return new QuantizeSource(gguf,
            gguf.Metadata.Keys.Select(k => (k, gguf.Metadata.GetValue(k))).ToList(),
            gguf.Tensors.Select(t => new QuantizeTensor(t.Name, t.Type, t.Shape, [t])).ToList(), vectorsToF32: false);
    }

    private static QuantizeSource OpenFolder(string folder)
    {
        string configPath = Path.Combine(folder, "config.json");
        if (!File.Exists(configPath))
            throw new FileNotFoundException($"{folder} has no config.json; quantize reads a GGUF file or a Hugging Face folder (config.json + safetensors).");
        var config = Qwen2Config.FromFile(configPath);
        config.Validate();
        var tokenizer = GgufTokenizerExport.FromHuggingFace(folder, config.VocabSize, config.EosTokenId, config.BosTokenId);
        var writer = new GgufWriter();
        writer.SetString(GgufNames.Keys.GeneralArchitecture, GgufNames.ArchitectureOf(config));
        writer.SetString(GgufNames.Keys.GeneralName, Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))));
        GgufNames.WriteConfig(config, writer);
        tokenizer.WriteTo(writer);

        var checkpoint = SafetensorsCheckpoint.Open(folder);
        try
        {
            var tensors = new List<QuantizeTensor>();
            var stacks = new Dictionary<string, TensorView?[]>(StringComparer.Ordinal);
            foreach (string hfName in checkpoint.TensorNames)
            {
                // A tied checkpoint may still store lm_head; llama.cpp's converter leaves it out.
                if (config.TieWordEmbeddings && hfName == "lm_head.weight") continue;
                var view = checkpoint.Get(hfName);
                if (view.Type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16))
                    throw new FormatException($"{folder}: tensor {hfName} is {view.Type}; safetensors input must be f32, f16 or bf16.");
                if (GgufNames.TryExpertMatrix(hfName, out string stack, out int expert))
                {
                    int experts = config.NumExperts ?? 0;
                    if (expert >= experts)
                        throw new FormatException($"{folder}: tensor {hfName} is expert {expert}, but num_experts is {experts}.");
                    if (!stacks.TryGetValue(stack, out var members)) stacks[stack] = members = new TensorView?[experts];
                    members[expert] = view;
                    continue;
                }
                if (!GgufNames.TryToGguf(hfName, out string ggufName))
                    throw new FormatException($"{folder}: tensor {hfName} is not one of a Qwen2 model's tensors.");
                // The shared expert's gate is a [1, hidden] linear in transformers and a vector in llama.cpp.
                var shape = view.Shape is [1, long hidden] && hfName.EndsWith(".shared_expert_gate.weight", StringComparison.Ordinal) ? [hidden] : view.Shape;
                tensors.Add(new QuantizeTensor(ggufName, view.Type, shape, [view]));
            }
            foreach (var (stack, members) in stacks)
            {
                int missing = Array.IndexOf(members, null);
                if (missing >= 0)
                    throw new FormatException($"{folder}: {stack} lacks expert {missing} (no tensor for it among the safetensors).");
                var first = members[0]!;
                if (members.Any(m => m!.Type != first.Type || !m.Shape.SequenceEqual(first.Shape)))
                    throw new FormatException($"{folder}: the experts stacked into {stack} differ in type or shape.");
                tensors.Add(new QuantizeTensor(stack, first.Type, [members.Length, .. first.Shape], members!));
            }
            return new QuantizeSource(checkpoint, writer.Keys.Select(k => (k, writer.Get(k))).ToList(), tensors, vectorsToF32: true);
        }
        catch
        {
            checkpoint.Dispose();
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
