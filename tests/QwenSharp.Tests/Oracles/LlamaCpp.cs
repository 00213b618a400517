using LLama;
using LLama.Common;
using LLama.Native;

namespace QwenSharp.Tests.Oracles;

/// <summary>
/// llama.cpp (through LLamaSharp 0.30.0 and its CPU backend) as the reference for logits and generation.
/// The KV cache is kept in F32 unless <c>cacheType</c> says otherwise (llama.cpp's default is F16, which alone moves
/// logits by ~1e-3) and flash attention is off, so that llama.cpp's own rounding is only what its matmuls do with the
/// weights' type. A quantized cache (Q8_0) turns flash attention on, as llama.cpp requires for a quantized V cache.
/// </summary>
public sealed class LlamaCpp : IDisposable
{
    private static readonly object NativeGate = new();
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly int _vocab;

    /// <param name="microBatch">tokens per compute pass (llama.cpp's n_ubatch), the context size unless given: a long
    /// context needs a smaller one, since attention scores take n_ubatch × n_ctx × heads floats</param>
    public LlamaCpp(string ggufPath, int contextSize = 256, int threads = 2, GGMLType cacheType = GGMLType.GGML_TYPE_F32, int? microBatch = null)
    {
        lock (NativeGate)
        {
            // Quiet: llama.cpp logs every tensor at load otherwise.
            NativeLogConfig.llama_log_set((level, message) => { });
        }
        var p = new ModelParams(ggufPath)
        {
            ContextSize = (uint)contextSize,
            BatchSize = (uint)contextSize,
            UBatchSize = (uint)(microBatch ?? contextSize),
            GpuLayerCount = 0,
            Threads = threads,
            BatchThreads = threads,
            TypeK = cacheType,
            TypeV = cacheType,
            FlashAttention = cacheType is not (GGMLType.GGML_TYPE_F32 or GGMLType.GGML_TYPE_F16 or (GGMLType)30 /* BF16 */),
        };
        _weights = LLamaWeights.LoadFromFile(p);
        _context = _weights.CreateContext(p);
        _vocab = _weights.Vocab.Count;
    }

    public int VocabSize => _vocab;

    /// <summary>Logits at every position of <paramref name="tokens"/> from <paramref name="firstLogit"/> on, evaluated from an
    /// empty cache: [tokens - firstLogit, vocab].</summary>
    public float[][] Logits(IReadOnlyList<int> tokens, int firstLogit = 0)
    {
        _context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Count; i++)
            batch.Add((LLamaToken)(tokens[i]), i, LLamaSeqId.Zero, i >= firstLogit);
        var result = _context.NativeHandle.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {result}");
        var rows = new float[tokens.Count - firstLogit][];
        for (int i = 0; i < rows.Length; i++)
            rows[i] = _context.NativeHandle.GetLogitsIth(firstLogit + i).ToArray();
        return rows;
    }

    /// <summary>Greedy continuation of <paramref name="prompt"/> for <paramref name="count"/> tokens (argmax, lowest id on ties).</summary>
    public int[] Greedy(IReadOnlyList<int> prompt, int count)
    {
        _context.NativeHandle.MemoryClear(true);
        var output = new List<int>();
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt.Count; i++)
            batch.Add((LLamaToken)(prompt[i]), i, LLamaSeqId.Zero, i == prompt.Count - 1);
        int pos = prompt.Count;
        for (int n = 0; n < count; n++)
        {
            var result = _context.NativeHandle.Decode(batch);
            if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {result}");
            var logits = _context.NativeHandle.GetLogitsIth(batch.TokenCount - 1);
            int best = 0;
            for (int v = 1; v < logits.Length; v++) if (logits[v] > logits[best]) best = v;
            output.Add(best);
            batch.Clear();
            batch.Add((LLamaToken)(best), pos++, LLamaSeqId.Zero, true);
        }
        return output.ToArray();
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }
}
