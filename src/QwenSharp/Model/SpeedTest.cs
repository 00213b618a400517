using System.Diagnostics;

namespace QwenSharp.Model;

/// <summary>
/// llama-bench's two measurements on a model: prompt processing (ppN: N tokens in one forward step from an
/// empty cache) and text generation (tgN: N single-token steps from an empty cache). Neither includes load,
/// tokenization or sampling. Each returns seconds.
/// </summary>
public sealed class SpeedTest
{
    private readonly Qwen2Model _model;
    private readonly KvCache _cache;
    private readonly int[] _table;
    private readonly ForwardBatch _batch = new();
    private readonly int[] _one = new int[1];

    public SpeedTest(Qwen2Model model, int maxTokens)
    {
        _model = model;
        _cache = KvCache.For(model.Config, maxTokens);
        _table = _cache.ContiguousBlockTable(maxTokens);
    }

    /// <summary>Seconds to process <paramref name="tokens"/> prompt tokens in one step (logits of the last only, as a real prefill).</summary>
    public double PromptProcessing(int tokens)
    {
        var ids = new int[tokens];
        var rng = new Random(tokens);
        for (int i = 0; i < tokens; i++) ids[i] = rng.Next(_model.Config.VocabSize);
        _batch.Clear();
        _batch.Add(ids, 0, _table);
        var clock = Stopwatch.StartNew();
        _model.Forward(_batch, _cache);
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>Seconds to generate <paramref name="tokens"/> tokens one step at a time (greedy argmax feeds the next step).</summary>
    public double TextGeneration(int tokens)
    {
        int next = 0;
        var clock = Stopwatch.StartNew();
        for (int pos = 0; pos < tokens; pos++)
        {
            _one[0] = next;
            _batch.Clear();
            _batch.Add(_one, pos, _table);
            var logits = _model.Forward(_batch, _cache);
            next = ArgMax(logits);
        }
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Seconds for <paramref name="sequences"/> sequences to each generate <paramref name="tokens"/> tokens, all
    /// decoded together in one forward step per token (batched decode).
    /// </summary>
    public double BatchedGeneration(int sequences, int tokens)
    {
        int perSequence = _cache.NumBlocks / sequences;
        if (perSequence * _cache.BlockSize < tokens)
            throw new ArgumentException($"{sequences} sequences of {tokens} tokens do not fit a cache of {_cache.Capacity} tokens.");
        var tables = Enumerable.Range(0, sequences).Select(s => Enumerable.Range(s * perSequence, perSequence).ToArray()).ToArray();
        var inputs = Enumerable.Range(0, sequences).Select(s => new[] { s }).ToArray();
        int vocab = _model.Config.VocabSize;
        var clock = Stopwatch.StartNew();
        for (int pos = 0; pos < tokens; pos++)
        {
            _batch.Clear();
            for (int s = 0; s < sequences; s++) _batch.Add(inputs[s], pos, tables[s]);
            var logits = _model.Forward(_batch, _cache);
            for (int s = 0; s < sequences; s++) inputs[s][0] = ArgMax(logits.Slice(s * vocab, vocab));
        }
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>Greedy pick, vectorized: llama-bench times no sampling at all, and a scalar pass over 152k logits
    /// would cost about 1% of a 0.5B decode step.</summary>
    private static int ArgMax(ReadOnlySpan<float> values) => System.Numerics.Tensors.TensorPrimitives.IndexOfMax(values);
}
