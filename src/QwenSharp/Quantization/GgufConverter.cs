using QwenSharp.Formats;
using QwenSharp.Tensors;

namespace QwenSharp.Quantization;

/// <summary>
/// A Hugging Face Qwen2 folder → one GGUF file, as llama.cpp's convert_hf_to_gguf.py writes it (Qwen2Model):
/// metadata from <see cref="HfFolder.WriteMetadata"/>, tensors in the converter's order under their GGUF names, each
/// stored per ModelBase.prepare_tensors: vectors and norms in F32, every other weight matrix in the output type,
/// and, for q8_0, F16 where a row is not a whole number of 32-value blocks (gguf-py's QuantError fallback).
/// Values are widened to f32 and encoded with ggml's reference rounding, as the converter's numpy code does, so
/// the data is what the script writes.
/// </summary>
public static class GgufConverter
{
    /// <summary>The --outtype values, as the script spells them; "auto" is the folder's own float type.</summary>
    public const string OutTypes = "f32, f16, bf16, q8_0, auto";

    /// <summary>The file type of an --outtype value; null for "auto".</summary>
    public static QuantizeFileType? ParseOutType(string text) => text.Trim().ToLowerInvariant() switch
    {
        "f32" => QuantizeFileType.F32,
        "f16" => QuantizeFileType.F16,
        "bf16" => QuantizeFileType.BF16,
        "q8_0" => QuantizeFileType.Q8_0,
        "auto" => null,
        _ => throw new ArgumentException($"Output type {text} is not one of {OutTypes}; quantize the converted file for other types."),
    };

    /// <summary>Converts <paramref name="folder"/> to <paramref name="output"/> in <paramref name="outType"/>
    /// (null: the type of the folder's first matrix, as --outtype auto); returns the file type written.</summary>
    public static QuantizeFileType Run(string folder, string output, QuantizeFileType? outType, int threads = 0, Action<QuantizeProgress>? progress = null)
    {
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException(File.Exists(folder)
                ? $"{folder} is a file; convert reads a Hugging Face model folder (quantize rewrites a GGUF file)."
                : $"Input folder {folder} does not exist.");
        OutputPath.EnsureNotInput(folder, output);
        using var hf = HfFolder.Open(folder);
        OutputPath.EnsureNotInput(folder, output, hf.Files);
        var fileType = outType ?? hf.GuessedFileType;
        GgufQuantizer.Write(Plan(hf, fileType, threads, progress), output);
        return fileType;
    }

    /// <summary>The writer holding the converted model (data produced when written).</summary>
    public static GgufWriter Plan(HfFolder hf, QuantizeFileType fileType, int threads = 0, Action<QuantizeProgress>? progress = null)
    {
        if (fileType is not (QuantizeFileType.F32 or QuantizeFileType.F16 or QuantizeFileType.BF16 or QuantizeFileType.Q8_0))
            throw new ArgumentException($"convert writes f32, f16, bf16 or q8_0, not {fileType}; quantize the converted file for other types.");
        var writer = new GgufWriter();
        hf.WriteMetadata(writer, fileType);
        var matrixType = QuantizeFileTypes.DefaultType(fileType);
        threads = threads > 0 ? threads : Environment.ProcessorCount;
        var clock = new System.Diagnostics.Stopwatch();
        for (int i = 0; i < hf.Tensors.Count; i++)
        {
            var t = hf.Tensors[i];
            string name = t.Name;
            var type = TypeOf(name, t.Shape, matrixType);
            int index = i, count = hf.Tensors.Count;
            writer.AddTensor(name, type, t.Shape, s =>
            {
                clock.Start();
                GgufQuantizer.WriteData(t, type, s, threads);
                progress?.Invoke(new QuantizeProgress(index, count, name, t.Type, type, GgmlTypeInfo.RowBytes(type, t.Columns) * t.Rows, clock.Elapsed));
            });
        }
        return writer;
    }

    /// <summary>
    /// prepare_tensors' choice for a Qwen2 tensor: 1-D tensors and norms in F32 ("most of the codebase that takes in
    /// 1D tensors or norms only handles F32"), tensors whose name does not end in ".weight" in F32, the rest in the
    /// output type, falling back to F16 where a row does not divide into its blocks.
    /// </summary>
    public static GgmlType TypeOf(string name, long[] shape, GgmlType matrixType)
    {
        if (shape.Length <= 1 || name.EndsWith("_norm.weight", StringComparison.Ordinal)) return GgmlType.F32;
        if (!name.EndsWith(".weight", StringComparison.Ordinal)) return GgmlType.F32;
        // "Some tensor types are always in float32", the MoE router among them.
        if (name.EndsWith(".ffn_gate_inp.weight", StringComparison.Ordinal)) return GgmlType.F32;
        return shape[^1] % GgmlTypeInfo.BlockSize(matrixType) == 0 ? matrixType : GgmlType.F16;
    }
}
