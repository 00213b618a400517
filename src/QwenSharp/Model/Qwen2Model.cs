using System.Numerics.Tensors;
using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Model;

/// <summary>
/// The Qwen2 decoder (transformers' Qwen2ForCausalLM): token embedding, N layers of
/// [RMSNorm → q/k/v with bias → NEOX RoPE → grouped-query causal attention → o_proj → residual →
/// RMSNorm → SwiGLU MLP → residual], a final RMSNorm and the LM head. fp32 activations; weights stay in
/// their file format and are read by the kernels.
/// </summary>
public sealed class Qwen2Model : IDisposable
{
    private readonly IWeightSource _source;
    private readonly RopeFrequencies _rope;      // the config's: YaRN when rope_scaling says so, else plain
    private readonly RopeFrequencies _plainRope; // plain RoPE, for sequences that run without rope_scaling (RopeMode.Plain)
    private readonly MoeFeedForward? _moe;
    private ForwardBuffers _buffers = new(0, 0);

    public Qwen2Model(IWeightSource source, Qwen2Config config)
    {
        config.Validate();
        _source = source;
        Config = config;
        Weights = Qwen2Weights.Load(source, config);
        _moe = config.IsMoe ? new MoeFeedForward(config) : null;
        _rope = config.RopeScaling is { } s
            ? RopeFrequencies.Yarn(config.HeadDim, config.RopeTheta, s.Factor,
                s.OriginalMaxPositionEmbeddings,
                s.BetaFast, s.BetaSlow)
            : RopeFrequencies.Plain(config.HeadDim, config.RopeTheta);
        _plainRope = config.RopeScaling is null ? _rope : RopeFrequencies.Plain(config.HeadDim, config.RopeTheta);
    }

    public Qwen2Config Config { get; }
    public Qwen2Weights Weights { get; }
    public string Origin => _source.Origin;

    /// <summary>
    /// Runs one step over every token of <paramref name="batch"/>: writes their keys and values into
    /// <paramref name="cache"/> and returns the logits the batch asked for, [batch.LogitRows, vocab], in
    /// sequence order (valid until the next call).
    /// </summary>
    public ReadOnlySpan<float> Forward(ForwardBatch batch, KvCache cache)
    {
        int T = batch.TokenCount;
        Check(batch, cache);
        var b = Buffers(T, batch.LogitRows);
        int hidden = Config.HiddenSize, q = Config.NumAttentionHeads * Config.HeadDim, kv = Config.NumKeyValueHeads * Config.HeadDim;
        int inter = Config.IntermediateSize;

        var x = b.X.AsSpan(0, T * hidden);            // [T, hidden] the residual stream
        var xn = b.Xn.AsSpan(0, T * hidden);          // [T, hidden] normalized
        var qs = b.Q.AsSpan(0, T * q);                // [T, heads * head_dim]
        var ks = b.K.AsSpan(0, T * kv);               // [T, kv_heads * head_dim]
        var vs = b.V.AsSpan(0, T * kv);               // [T, kv_heads * head_dim]
        var attn = b.Attn.AsSpan(0, T * q);           // [T, heads * head_dim]
        var gate = b.Gate.AsSpan(0, T * inter);       // [T, intermediate]
        var up = b.Up.AsSpan(0, T * inter);           // [T, intermediate]
        var delta = b.Delta.AsSpan(0, T * hidden);    // [T, hidden] a sublayer's output

        Gather(batch, b.Positions);
        Embed(b.Tokens.AsSpan(0, T), x);
        FillRopeTables(batch);                                         // cos/sin of each token, from its sequence's RoPE

        for (int layer = 0; layer < Weights.layers.Length; layer++)
        {
            var w = Weights.layers[layer];
            NormRows(x, w.input_layernorm, xn);                        // attention norm
            MatMul.MultiplySiblings(xn, T, w.q_proj, qs, w.k_proj, ks, w.v_proj, vs); // q, k, v = xn·Wᵀ (one job)
            AddBias(qs, w.q_bias, T);                                  // + bq
            AddBias(ks, w.k_bias, T);                                  // + bk
            AddBias(vs, w.v_bias, T);                                  // + bv
            RotateRows(qs, ks, T);                                     // RoPE on q and k
            StoreKv(batch, cache, layer, ks, vs);                      // k, v into the paged cache
            Attend(batch, cache, layer, qs, attn);                     // softmax(q·kᵀ/√d)·v per sequence
            Linear(w.o_proj, attn, delta, T);                          // o_proj
            TensorPrimitives.Add(x, delta, x);                         // residual
            NormRows(x, w.post_attention_layernorm, xn);               // MLP norm
            if (w.mlp != null) _moe!.Apply(w.mlp, xn, delta, T);       // sparse MoE MLP: routed + shared experts
            else
            {
                MatMul.MultiplySiblings(xn, T, w.gate_proj!, gate, w.up_proj!, up); // gate, up (one job)
                SwiGlu.Apply(gate, up, gate);                          // silu(gate) · up
                Linear(w.down_proj!, gate, delta, T);                  // down
            }
            TensorPrimitives.Add(x, delta, x);                         // residual
        }

        int rows = SelectLogitRows(batch, x, xn);                      // last hidden state of each wanted token
        if (rows == 0) return ReadOnlySpan<float>.Empty;               // a prefill chunk that samples nothing
        NormRows(xn[..(rows * hidden)], Weights.norm, xn[..(rows * hidden)]); // final norm
        var logits = b.Logits.AsSpan(0, rows * Config.VocabSize);
        Linear(Weights.lm_head, xn[..(rows * hidden)], logits, rows);  // LM head
        return logits;
    }

    private void Check(ForwardBatch batch, KvCache cache)
    {
        if (batch.TokenCount == 0) throw new ArgumentException("The batch is empty.");
        if (cache.Layers != Config.NumHiddenLayers || cache.KvHeads != Config.NumKeyValueHeads || cache.HeadDim != Config.HeadDim)
            throw new ArgumentException("The KV cache was made for another model shape.");
        foreach (var s in batch.Sequences)
        {
            if (s.BlockTable.Length * cache.BlockSize < s.EndPosition)
                throw new ArgumentException($"A sequence reaching position {s.EndPosition} has a block table of {s.BlockTable.Length} blocks of {cache.BlockSize} tokens.");
            foreach (int t in s.Tokens.Span)
                if ((uint)t >= (uint)Config.VocabSize)
                    throw new ArgumentException($"Token id {t} is outside the vocabulary of {Config.VocabSize}.");
            foreach (int block in s.BlockTable.Span)
                if ((uint)block >= (uint)cache.NumBlocks)
                    throw new ArgumentException($"Block id {block} is outside the KV cache's {cache.NumBlocks} blocks.");
        }
    }

    private ForwardBuffers Buffers(int tokens, int logitRows)
    {
        if (_buffers.Tokens.Length < tokens || _buffers.Logits.Length < logitRows * Config.VocabSize)
            _buffers = new ForwardBuffers(Config, Math.Max(tokens, _buffers.Tokens.Length),
                Math.Max(Math.Max(logitRows, 1), _buffers.Logits.Length / Config.VocabSize));
        return _buffers;
    }

    /// <summary>Flattens the batch's token ids and positions, and for attention where each token's block table starts
    /// (the sequences' tables one after another).</summary>
    private void Gather(ForwardBatch batch, int[] positions)
    {
        var b = _buffers;
        int t = 0, tables = 0;
        foreach (var s in batch.Sequences) tables += s.BlockTable.Length;
        if (b.Tables.Length < tables) b.Tables = new int[Math.Max(tables, 2 * b.Tables.Length)];
        tables = 0;
        foreach (var s in batch.Sequences)
        {
            var tokens = s.Tokens.Span;
            s.BlockTable.Span.CopyTo(b.Tables.AsSpan(tables));
            for (int i = 0; i < tokens.Length; i++, t++)
            {
                b.Tokens[t] = tokens[i];
                positions[t] = s.FirstPosition + i;
                b.TableOffsets[t] = tables;
            }
            tables += s.BlockTable.Length;
        }
    }

    /// <summary>Each sequence's tokens take cos/sin from the table it runs under (<see cref="BatchSequence.Rope"/>); YaRN's
    /// attention factor (mscale) rides on its cos/sin, so a plain sequence gets neither its frequencies nor its scale.</summary>
    private void FillRopeTables(ForwardBatch batch)
    {
        int half = Config.HeadDim / 2, t = 0;
        foreach (var s in batch.Sequences)
        {
            int n = s.Tokens.Length;
            Rope.FillTables(_buffers.Positions.AsSpan(t, n), s.Rope == RopeMode.Plain ? _plainRope : _rope,
                _buffers.Cos.AsSpan(t * half, n * half), _buffers.Sin.AsSpan(t * half, n * half));
            t += n;
        }
    }

    private unsafe void Embed(ReadOnlySpan<int> tokens, Span<float> x)
    {
        int hidden = Config.HiddenSize;
        var embed = Weights.embed_tokens;
        for (int t = 0; t < tokens.Length; t++)
            Dequantize.Row(embed.Type, embed.Row(tokens[t]), x.Slice(t * hidden, hidden));
    }

    private void NormRows(ReadOnlySpan<float> x, float[] weight, Span<float> dst)
    {
        int hidden = Config.HiddenSize;
        for (int r = 0; r < x.Length / hidden; r++)
            RmsNorm.Apply(x.Slice(r * hidden, hidden), weight, (float)Config.RmsNormEps, dst.Slice(r * hidden, hidden));
    }

    private static void Linear(TensorView w, ReadOnlySpan<float> x, Span<float> y, int tokens) => MatMul.Multiply(w, x, y, tokens);

    private static void AddBias(Span<float> y, float[]? bias, int tokens)
    {
        if (bias == null) return;
        for (int t = 0; t < tokens; t++)
        {
            var row = y.Slice(t * bias.Length, bias.Length);
            TensorPrimitives.Add(row, bias, row);
        }
    }

    private void RotateRows(Span<float> qs, Span<float> ks, int tokens)
    {
        int half = Config.HeadDim / 2, q = Config.NumAttentionHeads * Config.HeadDim, kv = Config.NumKeyValueHeads * Config.HeadDim;
        for (int t = 0; t < tokens; t++)
        {
            var cos = _buffers.Cos.AsSpan(t * half, half);
            var sin = _buffers.Sin.AsSpan(t * half, half);
            Rope.ApplyNeox(qs.Slice(t * q, q), Config.HeadDim, cos, sin);
            Rope.ApplyNeox(ks.Slice(t * kv, kv), Config.HeadDim, cos, sin);
        }
    }

    private void StoreKv(ForwardBatch batch, KvCache cache, int layer, ReadOnlySpan<float> ks, ReadOnlySpan<float> vs)
    {
        int kv = Config.NumKeyValueHeads * Config.HeadDim, t = 0;
        foreach (var s in batch.Sequences)
            for (int i = 0; i < s.Tokens.Length; i++, t++)
                cache.Store(layer, s.BlockTable.Span, s.FirstPosition + i, ks.Slice(t * kv, kv), vs.Slice(t * kv, kv));
    }

    private void Attend(ForwardBatch batch, KvCache cache, int layer, ReadOnlySpan<float> qs, Span<float> output) =>
        Attention.CausalBatch(qs, cache.Keys(layer), cache.Values(layer), cache.Type, _buffers.Tables, _buffers.TableOffsets,
            _buffers.Positions, batch.TokenCount, cache.BlockSize, Config.NumAttentionHeads, Config.NumKeyValueHeads,
            Config.HeadDim, output, WorkerPool.Shared);

    /// <summary>Copies the hidden states of the tokens that want logits to the front of <paramref name="dst"/>.</summary>
    private int SelectLogitRows(ForwardBatch batch, ReadOnlySpan<float> x, Span<float> dst)
    {
        int hidden = Config.HiddenSize, t = 0, rows = 0;
        foreach (var s in batch.Sequences)
        {
            int n = s.Tokens.Length;
            if (s.Logits == LogitsWanted.All)
                for (int i = 0; i < n; i++) x.Slice((t + i) * hidden, hidden).CopyTo(dst.Slice(rows++ * hidden, hidden));
            else if (s.Logits == LogitsWanted.Last)
                x.Slice((t + n - 1) * hidden, hidden).CopyTo(dst.Slice(rows++ * hidden, hidden));
            t += n;
        }
        return rows;
    }

    public void Dispose() => _source.Dispose();

    /// <summary>Activation buffers, allocated for the largest batch seen and reused (never per step).</summary>
    private sealed class ForwardBuffers
    {
        public ForwardBuffers(int tokens, int logitRows) : this(null, tokens, logitRows) { }

        public ForwardBuffers(Qwen2Config? c, int tokens, int logitRows)
        {
            int hidden = c?.HiddenSize ?? 0, q = c == null ? 0 : c.NumAttentionHeads * c.HeadDim;
            int kv = c == null ? 0 : c.NumKeyValueHeads * c.HeadDim, inter = c?.IntermediateSize ?? 0, half = (c?.HeadDim ?? 0) / 2;
            Tokens = new int[tokens];
            Positions = new int[tokens];
            TableOffsets = new int[tokens];
            X = new float[tokens * hidden];
            Xn = new float[tokens * hidden];
            Q = new float[tokens * q];
            K = new float[tokens * kv];
            V = new float[tokens * kv];
            Attn = new float[tokens * q];
            Gate = new float[tokens * inter];
            Up = new float[tokens * inter];
            Delta = new float[tokens * hidden];
            Cos = new float[tokens * half];
            Sin = new float[tokens * half];
            Logits = new float[(long)logitRows * (c?.VocabSize ?? 0)];
        }

        public int[] Tokens, Positions;
        public int[] TableOffsets;           // [T] for attention: where each token's block table starts in Tables
        public int[] Tables = new int[256];  // the batch's block tables, one after another
        public float[] X, Xn, Q, K, V, Attn, Gate, Up, Delta, Cos, Sin, Logits;
    }
}
