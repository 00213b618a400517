using QwenSharp.Formats;
using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Quantization;

/// <summary>One tensor written: its index, the count, its name, its type before and after, the bytes written, and
/// the time since the run started.</summary>
public readonly record struct QuantizeProgress(int Index, int Count, string Name, GgmlType From, GgmlType To, long Bytes, TimeSpan Elapsed);

/// <summary>
/// Rewrites a GGUF model in another file type as llama-quantize does (llama_model_quantize): every metadata key
/// copied in order, then <c>general.quantization_version</c> and <c>general.file_type</c> set, and the split keys
/// of a multi-file model removed (the output is one file); tensors in
/// llama.cpp's loader order (<see cref="LlamaCppTensorOrder"/>), each either copied as it is or converted row by row with ggml's reference quantizers
/// (<see cref="Quantize.Row"/>), so the data is byte-identical to llama.cpp's without an importance matrix.
/// </summary>
public static unsafe class GgufQuantizer
{
    /// <summary>ggml's GGML_QNT_VERSION: the block layouts of the quantized types.</summary>
    public const uint QuantizationVersion = 2;

    /// <summary>llama-quantize removes these (LLM_KV_SPLIT_*): its output is never split.</summary>
    public static IReadOnlyList<string> SplitKeys { get; } = ["split.no", "split.count", "split.tensors.count"];

    /// <summary>Quantizes <paramref name="input"/>, a GGUF file or a Hugging Face folder (<see cref="QuantizeSource"/>).</summary>
    public static void Run(string input, string output, QuantizeOptions options, Action<QuantizeProgress>? progress = null)
    {
        OutputPath.EnsureNotInput(input, output);
        using var source = QuantizeSource.Open(input);
        OutputPath.EnsureNotInput(input, output, source.Files);
        Write(Plan(source, options, progress), output);
    }

    /// <summary>Writes a planned model to <paramref name="output"/>, creating its folder; a failed write leaves no file.</summary>
    internal static void Write(GgufWriter writer, string output)
    {
        if (Directory.Exists(output))
            throw new ArgumentException($"The output {output} is a folder; give the path of the .gguf file to write.");
        string? dir = Path.GetDirectoryName(Path.GetFullPath(output));
        if (dir != null) Directory.CreateDirectory(dir);
        try
        {
            writer.Write(output);
        }
        catch
        {
            try { File.Delete(output); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>The writer holding the output's metadata and tensors (data produced when written).</summary>
    public static GgufWriter Plan(QuantizeSource source, QuantizeOptions options, Action<QuantizeProgress>? progress = null)
    {
        var writer = new GgufWriter();
        foreach (var (key, value) in source.Metadata) writer.Set(key, value);
        // gguf.cpp's setters remove a key and append it, so these two end the metadata whatever the input held.
        writer.Remove(GgufNames.Keys.GeneralQuantizationVersion);
        writer.SetUInt32(GgufNames.Keys.GeneralQuantizationVersion, QuantizationVersion);
        writer.Remove(GgufNames.Keys.GeneralFileType);
        writer.SetUInt32(GgufNames.Keys.GeneralFileType, (uint)options.FileType);
        foreach (string key in SplitKeys) writer.Remove(key);

        var names = source.Tensors.Select(t => t.Name).ToList();
        var tensors = source.Tensors.OrderBy(t => t.Name, LlamaCppTensorOrder.Instance).ToList();
        var choice = new TensorTypeChoice(options, names, QuantizeModelInfo.FromMetadata(source.Metadata));
        int threads = options.Threads > 0 ? options.Threads : Environment.ProcessorCount;
        var clock = new System.Diagnostics.Stopwatch();
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            string name = t.Name;
            var type = choice.Choose(name, t.Type, t.Shape);
            // A converter stores vectors (norms, biases) and MoE routers as F32 whatever the checkpoint's float type.
            if (source.VectorsToF32 && (t.Shape.Length == 1 || name.EndsWith("ffn_gate_inp.weight", StringComparison.Ordinal))) type = GgmlType.F32;
            if (type != t.Type && TensorTypeChoice.IsBlockType(t.Type) && !options.AllowRequantize)
                throw new ArgumentException($"Tensor {name} is already {t.Type}; requantizing it to {type} loses precision twice (give --allow-requantize to do it anyway).");
            int index = i;
            writer.AddTensor(name, type, t.Shape, s =>
            {
                clock.Start(); // at the first tensor's data, after the header
                WriteData(t, type, s, threads);
                progress?.Invoke(new QuantizeProgress(index, tensors.Count, name, t.Type, type, GgmlTypeInfo.RowBytes(type, t.Columns) * t.Rows, clock.Elapsed));
            });
        }
        return writer;
    }

    /// <summary>Writes <paramref name="t"/>'s data in <paramref name="type"/>, part after part: copied when it already
    /// is, else converted row by row.</summary>
    internal static void WriteData(QuantizeTensor t, GgmlType type, Stream s, int threads)
    {
        foreach (var part in t.Parts)
            if (type == t.Type) Copy(part, s);
            else Convert(part, type, s, threads);
    }

    private static void Copy(TensorView t, Stream s)
    {
        for (long done = 0; done < t.ByteLength;)
        {
            int n = (int)Math.Min(1 << 26, t.ByteLength - done);
            s.Write(new ReadOnlySpan<byte>(t.Pointer + done, n));
            done += n;
        }
    }

    /// <summary>Decodes rows to float and encodes them in <paramref name="type"/>, a chunk of rows at a time across
    /// the threads; every row is encoded on its own, so the thread count does not change the bytes. Two buffers: a
    /// chunk is written while the threads encode the next, one write at a time and in order.</summary>
    private static void Convert(TensorView t, GgmlType type, Stream s, int threads)
    {
        int cols = checked((int)t.Columns);
        long rows = t.Rows;
        long srcRowBytes = t.RowBytes;
        int rowBytes = checked((int)GgmlTypeInfo.RowBytes(type, cols));
        int chunk = (int)Math.Clamp((16L << 20) / Math.Max(rowBytes, cols * 4L), threads, 1 << 16);
        long bufferBytes = (long)Math.Min(chunk, rows) * rowBytes;
        byte[][] buffers = [new byte[bufferBytes], rows > chunk ? new byte[bufferBytes] : []];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = threads };
        byte* src = t.Pointer;
        var srcType = t.Type;
        Task writing = Task.CompletedTask;
        try
        {
            for (long start = 0, c = 0; start < rows; start += chunk, c++)
            {
                int n = (int)Math.Min(chunk, rows - start);
                var encoded = buffers[c & 1];
                int perTask = Math.Max(1, (n + threads * 4 - 1) / (threads * 4));
                int tasks = (n + perTask - 1) / perTask;
                long first = start;
                Parallel.For(0, tasks, parallel, task =>
                {
                    var values = new float[cols];
                    int end = Math.Min(n, (task + 1) * perTask);
                    for (int r = task * perTask; r < end; r++)
                    {
                        Dequantize.Row(srcType, src + (first + r) * srcRowBytes, values);
                        Quantize.Row(type, values, encoded.AsSpan(r * rowBytes, rowBytes));
                    }
                });
                writing.GetAwaiter().GetResult(); // the previous chunk is out (and the other buffer free) before this one goes
                writing = Task.Run(() => s.Write(encoded, 0, n * rowBytes));
            }
        }
        finally
        {
            // Whatever failed, the write in flight ends before the caller sees the stream again; its own failure is
            // thrown below when nothing else was.
            try { writing.Wait(); } catch (AggregateException) { }
        }
        writing.GetAwaiter().GetResult();
    }
}

/// <summary>
/// The order llama.cpp's model loader keeps tensors in (its weight_name_comparer), which llama-quantize writes
/// them in: tensors outside the layers first, then layer by layer by number, and by ordinal name within each.
/// </summary>
public sealed class LlamaCppTensorOrder : IComparer<string>
{
    public static LlamaCppTensorOrder Instance { get; } = new();

    public int Compare(string? a, string? b)
    {
        int byLayer = Layer(a!).CompareTo(Layer(b!));
        return byLayer != 0 ? byLayer : string.CompareOrdinal(a, b);
    }

    /// <summary>The N of a name starting "blk.N" (as sscanf's "blk.%d" reads it), or -1.</summary>
    private static long Layer(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal)) return -1;
        int i = 4, sign = 1;
        if (i < name.Length && (name[i] == '-' || name[i] == '+')) { sign = name[i] == '-' ? -1 : 1; i++; }
        int start = i;
        long n = 0;
        while (i < name.Length && char.IsAsciiDigit(name[i]) && n < int.MaxValue) n = n * 10 + (name[i++] - '0');
        return i == start ? -1 : sign * n;
    }
}
