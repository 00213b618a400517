using QwenSharp.Tensors;
using System.Diagnostics;

namespace QwenSharp.Model;

/// <summary>
/// llama-bench's two measurements on a model: prompt processing (ppN: N tokens in one forward step) and text
/// generation (tgN: N single-token steps), each from an empty cache or after <c>depth</c> tokens already in it
/// (llama-bench's <c>-d</c>: the depth is processed untimed, once, and every timed run starts after it, writing only
/// positions past it). Neither includes load, tokenization or sampling. Each returns seconds.
/// </summary>
public sealed class SpeedTest
{
    private readonly Qwen2Model _model;
    private readonly KvCache _cache;
    private readonly int[] _table;
    private readonly ForwardBatch _batch = new();
    private readonly int[] _one = new int[1];
    private int _depth; // positions of the cache filled by Fill

    /// <summary>The KV cache the tests run on (its type and bytes per token are part of what is measured).</summary>
    public KvCache Cache => _cache;

    public SpeedTest(Qwen2Model model, int maxTokens, KvCacheType kvType = KvCacheType.F16)
    {
        _model = model;
        _cache = KvCache.For(model.Config, maxTokens, type: kvType);
        _table = _cache.ContiguousBlockTable(maxTokens);
    }

    /// <summary>Seconds to process <paramref name="tokens"/> prompt tokens in one step (logits of the last only, as a real prefill).</summary>
    public double PromptProcessing(int tokens, int depth = 0)
    {
        Fill(depth);
        var ids = RandomIds(tokens, tokens);
        _batch.Clear();
        _batch.Add(ids, depth, _table);
        var clock = Stopwatch.StartNew();
        _model.Forward(_batch, _cache);
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>Seconds to generate <paramref name="tokens"/> tokens one step at a time (greedy argmax feeds the next step).</summary>
    public double TextGeneration(int tokens, int depth = 0)
    {
        Fill(depth);
        int next = 0;
        var clock = Stopwatch.StartNew();
        for (int pos = depth; pos < depth + tokens; pos++)
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

    /// <summary>Makes positions 0..depth−1 of the cache hold a random prompt's keys and values (in steps of 512 tokens),
    /// unless they already do.</summary>
    private void Fill(int depth)
    {
        if (depth + 1 > _cache.Capacity)
            throw new ArgumentException($"A depth of {depth} tokens leaves no room in a cache of {_cache.Capacity} tokens.");
        if (depth <= _depth) return;
        var ids = RandomIds(depth, -depth);
        for (int start = _depth; start < depth; start += 512)
        {
            _batch.Clear();
            _batch.Add(ids.AsMemory(start, Math.Min(512, depth - start)), start, _table, LogitsWanted.None);
            _model.Forward(_batch, _cache);
        }
        _depth = depth;
    }

    private int[] RandomIds(int count, int seed)
    {
        var rng = new Random(seed);
        var ids = new int[count];
        for (int i = 0; i < count; i++) ids[i] = rng.Next(_model.Config.VocabSize);
        return ids;
    }

    /// <summary>Greedy pick, vectorized: llama-bench times no sampling at all, and a scalar pass over 152k logits
    /// would cost about 1% of a 0.5B decode step.</summary>
    private static int ArgMax(ReadOnlySpan<float> values) => System.Numerics.Tensors.TensorPrimitives.IndexOfMax(values);
}
