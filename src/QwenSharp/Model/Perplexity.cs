using QwenSharp.Tensors;
namespace QwenSharp.Model;

/// <summary>
/// Perplexity as llama.cpp's perplexity tool defines it: the tokens are cut into non-overlapping windows of
/// <c>ctx</c>, each evaluated from an empty cache, and only the second half of each window is scored (the
/// first half gives every scored token at least ctx/2 of context). PPL = exp(mean NLL); the ± is
/// PPL · stddev(NLL)/√(n−1), llama.cpp's error estimate. On a model whose config has YaRN, each window runs under the table
/// its length picks (<see cref="RopePolicy"/>): in length-aware mode plain RoPE for a window within
/// original_max_position_embeddings, YaRN for a longer one; in static mode YaRN always.
/// </summary>
public static class Perplexity
{
    public sealed record Result(double Value, double Error, int Windows, int ScoredTokens);

    /// <summary>Accumulates negative log-likelihoods the way llama.cpp does (sums in double).</summary>
    public sealed class Accumulator
    {
        private double _nll, _nll2;

        public int Count { get; private set; }

        /// <summary>Scores <paramref name="target"/> under one row of logits: −log softmax(logits)[target].</summary>
        public void Add(ReadOnlySpan<float> logits, int target)
        {
            float max = float.NegativeInfinity;
            foreach (float l in logits) if (l > max) max = l;
            double sumExp = 0;
            foreach (float l in logits) sumExp += Math.Exp(l - max);
            double nll = -(logits[target] - max - Math.Log(sumExp));
            _nll += nll;
            _nll2 += nll * nll;
            Count++;
        }

        public double Value => Math.Exp(_nll / Count);

        public double Error
        {
            get
            {
                double mean = _nll / Count, variance = _nll2 / Count - mean * mean;
                return variance > 0 && Count > 1 ? Value * Math.Sqrt(variance / (Count - 1)) : 0;
            }
        }
    }

    /// <summary>Number of windows llama.cpp evaluates, refusing too few tokens with its own rule (at least 2·ctx).</summary>
    public static int Windows(int tokenCount, int ctx)
    {
        if (ctx < 4) throw new ArgumentException($"The perplexity context must be at least 4 tokens, got {ctx}.");
        if (tokenCount < 2 * ctx)
            throw new ArgumentException($"Perplexity with a context of {ctx} needs at least {2 * ctx} tokens; the input has {tokenCount}.");
        return tokenCount / ctx;
    }

    /// <summary>
    /// Evaluates every window and reports each window's running perplexity through <paramref name="onWindow"/>
    /// (index, running PPL), as llama.cpp prints [1]x,[2]y,….
    /// </summary>
    public static Result Compute(Qwen2Model model, IReadOnlyList<int> tokens, int ctx, Action<int, double>? onWindow = null) =>
        Compute(model, tokens, ctx, KvCacheType.F32, onWindow);

    /// <summary>As the other overload, with the KV cache in <paramref name="kvType"/> (llama-perplexity's -ctk/-ctv).</summary>
    public static Result Compute(Qwen2Model model, IReadOnlyList<int> tokens, int ctx, KvCacheType kvType, Action<int, double>? onWindow = null) =>
        Compute(model, tokens, ctx, kvType, RopeScalingMode.LengthAware, onWindow);

    /// <summary>As the other overloads, choosing each window's rotary table by <paramref name="ropeMode"/>.</summary>
    public static Result Compute(Qwen2Model model, IReadOnlyList<int> tokens, int ctx, KvCacheType kvType, RopeScalingMode ropeMode,
        Action<int, double>? onWindow = null)
    {
        var rope = new RopePolicy(model.Config.RopeScaling, ropeMode);
        if (ctx > model.Config.MaxPositionEmbeddings && model.Config.RopeScaling == null)
            throw new ArgumentException($"A context of {ctx} exceeds the model's max_position_embeddings {model.Config.MaxPositionEmbeddings}.");
        int windows = Windows(tokens.Count, ctx);
        var cache = KvCache.For(model.Config, ctx, type: kvType);
        var table = cache.ContiguousBlockTable(ctx);
        var acc = new Accumulator();
        var batch = new ForwardBatch();
        var window = new int[ctx];
        int vocab = model.Config.VocabSize, first = ctx / 2;
        for (int w = 0; w < windows; w++)
        {
            for (int i = 0; i < ctx; i++) window[i] = tokens[w * ctx + i];
            batch.Clear();
            batch.Add(window, 0, table, LogitsWanted.All, rope.ForLength(window.Length));
            var logits = model.Forward(batch, cache);
            // Position j predicts token j+1; llama.cpp scores j in [ctx/2, ctx-1).
            for (int j = first; j < ctx - 1; j++)
                acc.Add(logits.Slice(j * vocab, vocab), window[j + 1]);
            onWindow?.Invoke(w + 1, acc.Value);
        }
        return new Result(acc.Value, acc.Error, windows, acc.Count);
    }
}
