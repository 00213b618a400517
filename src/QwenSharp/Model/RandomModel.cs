using QwenSharp.Formats;
using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Model;

/// <summary>
/// Writes a random-weight Qwen2 model of a real shape, as a self-contained GGUF file (tokenizer and chat
/// template inside, as Ollama ships models) or as a Hugging Face folder (config.json, generation_config.json,
/// tokenizer files, safetensors). Same config, seed and type: same bytes.
/// </summary>
public static class RandomModel
{
    /// <summary>The storage type of one tensor: vectors (norms, biases) stay F32 as llama.cpp's converter keeps
    /// them; matrices take the requested type, or a type whose block fits their row when it does not.</summary>
    public static GgmlType TensorType(RandomTensor tensor, GgmlType requested)
    {
        // The MoE router and the shared expert's gate stay F32 too: convert_hf_to_gguf.py keeps ffn_gate_inp F32 and
        // llama-quantize leaves it (and the one-row ffn_gate_inp_shexp) unquantized.
        if (tensor.Shape.Length == 1 || tensor.Rows == 1 || tensor.Name.EndsWith(".mlp.gate.weight", StringComparison.Ordinal)) return GgmlType.F32;
        long cols = tensor.Columns;
        if (cols % GgmlTypeInfo.BlockSize(requested) == 0) return requested;
        // llama.cpp falls back from K-quants to a 32-block type when a row is not a multiple of 256.
        return cols % 32 == 0 ? GgmlType.Q8_0 : GgmlType.F16;
    }

    public static void WriteGguf(Qwen2Config config, string path, GgmlType type, ulong seed, GgufTokenizerExport tokenizer, string? name = null)
    {
        config.Validate();
        var weights = new RandomWeights(config, seed);
        var writer = new GgufWriter();
        string architecture = GgufNames.ArchitectureOf(config);
        writer.SetString(GgufNames.Keys.GeneralArchitecture, architecture);
        writer.SetString(GgufNames.Keys.GeneralName, name ?? $"{architecture}-random-{config.HiddenSize}x{config.NumHiddenLayers}");
        GgufNames.WriteConfig(config, writer);
        tokenizer.WriteTo(writer);
        var byName = weights.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        // Vectors stay F32 in GGUF, but hold the values their F16/BF16 safetensors twin holds (a converter
        // widens them losslessly), so both files describe the same model.
        var roundThrough = type is GgmlType.F16 or GgmlType.BF16 ? type : GgmlType.F32;
        foreach (var t in weights.Tensors)
        {
            var tensorType = TensorType(t, type);
            if (GgufNames.TryExpertMatrix(t.Name, out string stack, out int expert))
            {
                // convert_hf_to_gguf.py stacks a layer's experts into one [n_expert, rows, cols] tensor (ggml ne
                // [cols, rows, n_expert]), expert 0 first; the stack is written where expert 0 comes.
                if (expert != 0) continue;
                var members = Enumerable.Range(0, config.NumExperts!.Value)
                    .Select(e => byName[t.Name.Replace(".experts.0.", $".experts.{e}.", StringComparison.Ordinal)]).ToList();
                writer.AddTensor(stack, tensorType, [members.Count, t.Shape[0], t.Shape[1]], s =>
                {
                    foreach (var m in members) WriteRows(weights, m, tensorType, s, roundThrough);
                });
                continue;
            }
            // The shared expert's gate is a [1, hidden] linear in Hugging Face and a vector [hidden] in llama.cpp.
            long[] shape = t.Rows == 1 && t.Shape.Length == 2 ? [t.Columns] : t.Shape;
            writer.AddTensor(GgufNames.ToGguf(t.Name), tensorType, shape, s => WriteRows(weights, t, tensorType, s, roundThrough));
        }
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir != null) Directory.CreateDirectory(dir);
        writer.Write(path);
    }

    /// <summary>A Hugging Face folder; <paramref name="type"/> must be F32, F16 or BF16 (safetensors holds no block quants).</summary>
    public static void WriteFolder(Qwen2Config config, string folder, GgmlType type, ulong seed, string? tokenizerFolder,
        string? generationConfigPath, long maxShardBytes = 5L << 30)
    {
        if (type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16))
            throw new ArgumentException($"A safetensors folder holds f32, f16 or bf16 weights, not {type}; write a .gguf file for quantized types.");
        config.Validate();
        Directory.CreateDirectory(folder);
        var weights = new RandomWeights(config, seed);
        var specs = weights.Tensors
            .Select(t => new TensorSpec(t.Name, type, t.Shape, s => WriteRows(weights, t, type, s)))
            .ToList();
        SafetensorsWriter.Write(folder, specs, maxShardBytes);
        string dtype = type switch { GgmlType.F32 => "float32", GgmlType.F16 => "float16", _ => "bfloat16" };
        File.WriteAllText(Path.Combine(folder, "config.json"), (config with { TorchDtype = dtype }).ToJson());
        if (generationConfigPath != null)
            File.Copy(generationConfigPath, Path.Combine(folder, "generation_config.json"), overwrite: true);
        if (tokenizerFolder != null)
            foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt" })
                if (File.Exists(Path.Combine(tokenizerFolder, f)))
                    File.Copy(Path.Combine(tokenizerFolder, f), Path.Combine(folder, f), overwrite: true);
    }

    /// <summary>Generates rows in parallel chunks, encodes each in the tensor's type, and streams them in order.</summary>
    private static void WriteRows(RandomWeights weights, RandomTensor tensor, GgmlType type, Stream output, GgmlType roundThrough = GgmlType.F32)
    {
        int cols = checked((int)tensor.Columns);
        long rows = tensor.Rows;
        int rowBytes = checked((int)GgmlTypeInfo.RowBytes(type, cols));
        int chunk = (int)Math.Clamp((8L << 20) / Math.Max(rowBytes, cols * 4L), 1, 4096);
        var encoded = new byte[(long)chunk * rowBytes];
        for (long start = 0; start < rows; start += chunk)
        {
            int n = (int)Math.Min(chunk, rows - start);
            Parallel.For(0, n, () => new float[cols], (i, _, values) =>
            {
                weights.FillRow(tensor, start + i, values);
                if (roundThrough != GgmlType.F32) RoundThrough(roundThrough, values);
                Quantize.Row(type, values, encoded.AsSpan(i * rowBytes, rowBytes));
                return values;
            }, _ => { });
            output.Write(encoded, 0, n * rowBytes);
        }
    }

    private static unsafe void RoundThrough(GgmlType type, Span<float> values)
    {
        var bytes = new byte[GgmlTypeInfo.RowBytes(type, values.Length)];
        Quantize.Row(type, values, bytes);
        fixed (byte* p = bytes) Dequantize.Row(type, p, values);
    }
}
