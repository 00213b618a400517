using QwenSharp.Formats;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Quantization;

/// <summary>
/// What a quantization reads: metadata in order and tensors under their GGUF names. A GGUF file gives its own; a
/// Hugging Face folder (config.json, tokenizer.json, safetensors in f32/f16/bf16, sharded or not) gives the
/// metadata and names our GGUF writer gives a Qwen2 model (<see cref="GgufNames"/>, <see cref="GgufTokenizerExport"/>),
/// with vectors stored as F32 as llama.cpp's converter stores them.
/// </summary>
public sealed class QuantizeSource : IDisposable
{
    private readonly IDisposable _owner;

    private QuantizeSource(IDisposable owner, IReadOnlyList<(string Key, object Value)> metadata,
        IReadOnlyList<(string Name, TensorView View)> tensors, bool vectorsToF32)
    {
        _owner = owner;
        Metadata = metadata;
        Tensors = tensors;
        VectorsToF32 = vectorsToF32;
    }

    public IReadOnlyList<(string Key, object Value)> Metadata { get; }
    public IReadOnlyList<(string Name, TensorView View)> Tensors { get; }
    public bool VectorsToF32 { get; }

    public static QuantizeSource Open(string path)
    {
        if (Directory.Exists(path)) return OpenFolder(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Input {path} does not exist (give a GGUF file or a Hugging Face model folder).");
        var gguf = GgufFile.Open(path);
        return new QuantizeSource(gguf,
            gguf.Metadata.Keys.Select(k => (k, gguf.Metadata.GetValue(k))).ToList(),
            gguf.Tensors.Select(t => (t.Name, t)).ToList(), vectorsToF32: false);
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
        writer.SetString(GgufNames.Keys.GeneralArchitecture, GgufNames.Architecture);
        writer.SetString(GgufNames.Keys.GeneralName, Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))));
        GgufNames.WriteConfig(config, writer);
        tokenizer.WriteTo(writer);

        var checkpoint = SafetensorsCheckpoint.Open(folder);
        try
        {
            var tensors = new List<(string, TensorView)>();
            foreach (string hfName in checkpoint.TensorNames)
            {
                // A tied checkpoint may still store lm_head; llama.cpp's converter leaves it out.
                if (config.TieWordEmbeddings && hfName == "lm_head.weight") continue;
                if (!GgufNames.TryToGguf(hfName, out string ggufName))
                    throw new FormatException($"{folder}: tensor {hfName} is not one of a Qwen2 model's tensors.");
                var view = checkpoint.Get(hfName);
                if (view.Type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16))
                    throw new FormatException($"{folder}: tensor {hfName} is {view.Type}; safetensors input must be f32, f16 or bf16.");
                tensors.Add((ggufName, view));
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
