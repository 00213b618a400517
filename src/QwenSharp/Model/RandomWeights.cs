namespace QwenSharp.Model;

/// <summary>
/// The tensors of a random-weight Qwen2 model of a given shape, each row reproducible on its own from
/// (seed, tensor name, row), so a 7B model can be streamed to disk row by row in any order.
/// Distributions keep activations and logits at a realistic spread: linear weights ~N(0, 1/fan_in),
/// embeddings ~N(0, 1), biases ~N(0, 0.02²), norm weights 1 + N(0, 0.02²).
/// </summary>
public sealed class RandomWeights
{
    private readonly ulong _seed;

    public RandomWeights(Qwen2Config config, ulong seed)
    {
        Config = config;
        _seed = seed;
        Tensors = Enumerate(config).ToList();
    }

    public Qwen2Config Config { get; }

    /// <summary>Every tensor in checkpoint order, with Hugging Face names and shapes (outermost first).</summary>
    public IReadOnlyList<RandomTensor> Tensors { get; }

    private static IEnumerable<RandomTensor> Enumerate(Qwen2Config c)
    {
        int h = c.HiddenSize, q = c.NumAttentionHeads * c.HeadDim, kv = c.NumKeyValueHeads * c.HeadDim, inter = c.IntermediateSize;
        yield return new("model.embed_tokens.weight", [c.VocabSize, h], RandomInit.Embedding);
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.";
            yield return new(p + "input_layernorm.weight", [h], RandomInit.Norm);
            yield return new(p + "self_attn.q_proj.weight", [q, h], RandomInit.Linear);
            yield return new(p + "self_attn.q_proj.bias", [q], RandomInit.Bias);
            yield return new(p + "self_attn.k_proj.weight", [kv, h], RandomInit.Linear);
            yield return new(p + "self_attn.k_proj.bias", [kv], RandomInit.Bias);
            yield return new(p + "self_attn.v_proj.weight", [kv, h], RandomInit.Linear);
            yield return new(p + "self_attn.v_proj.bias", [kv], RandomInit.Bias);
            yield return new(p + "self_attn.o_proj.weight", [h, q], RandomInit.Linear);
            yield return new(p + "post_attention_layernorm.weight", [h], RandomInit.Norm);
            if (c.IsSparseLayer(i))
            {
                // Qwen2MoeSparseMoeBlock in the order of its state dict: router, experts, shared expert, its gate.
                int moe = c.MoeIntermediateSize!.Value, shared = c.SharedExpertIntermediateSize!.Value;
                yield return new(p + "mlp.gate.weight", [c.NumExperts!.Value, h], RandomInit.Linear);
                for (int e = 0; e < c.NumExperts.Value; e++)
                {
                    yield return new(Formats.GgufNames.ExpertName(i, e, "gate_proj"), [moe, h], RandomInit.Linear);
                    yield return new(Formats.GgufNames.ExpertName(i, e, "up_proj"), [moe, h], RandomInit.Linear);
                    yield return new(Formats.GgufNames.ExpertName(i, e, "down_proj"), [h, moe], RandomInit.Linear);
                }
                yield return new(p + "mlp.shared_expert.gate_proj.weight", [shared, h], RandomInit.Linear);
                yield return new(p + "mlp.shared_expert.up_proj.weight", [shared, h], RandomInit.Linear);
                yield return new(p + "mlp.shared_expert.down_proj.weight", [h, shared], RandomInit.Linear);
                yield return new(p + "mlp.shared_expert_gate.weight", [1, h], RandomInit.Linear);
                continue;
            }
            yield return new(p + "mlp.gate_proj.weight", [inter, h], RandomInit.Linear);
            yield return new(p + "mlp.up_proj.weight", [inter, h], RandomInit.Linear);
            yield return new(p + "mlp.down_proj.weight", [h, inter], RandomInit.Linear);
        }
        yield return new("model.norm.weight", [h], RandomInit.Norm);
        if (!c.TieWordEmbeddings) yield return new("lm_head.weight", [c.VocabSize, h], RandomInit.Linear);
    }

    /// <summary>Fills row <paramref name="row"/> of <paramref name="tensor"/> (a vector is one row).</summary>
    public void FillRow(RandomTensor tensor, long row, Span<float> dst)
    {
        var rng = new SplitMix64(Mix(_seed, Fnv1a(tensor.Name), (ulong)row));
        long fanIn = tensor.Shape[^1];
        switch (tensor.Init)
        {
            case RandomInit.Embedding:
                for (int i = 0; i < dst.Length; i++) dst[i] = rng.NextGaussian();
                break;
            case RandomInit.Linear:
                float std = 1f / MathF.Sqrt(fanIn);
                for (int i = 0; i < dst.Length; i++) dst[i] = rng.NextGaussian() * std;
                break;
            case RandomInit.Bias:
                for (int i = 0; i < dst.Length; i++) dst[i] = rng.NextGaussian() * 0.02f;
                break;
            case RandomInit.Norm:
                for (int i = 0; i < dst.Length; i++) dst[i] = 1f + rng.NextGaussian() * 0.02f;
                break;
        }
    }

    private static ulong Fnv1a(string s)
    {
        ulong h = 14695981039346656037UL;
        foreach (char ch in s) { h ^= ch; h *= 1099511628211UL; }
        return h;
    }

    private static ulong Mix(ulong a, ulong b, ulong c)
    {
        var m = new SplitMix64(a ^ (b * 0x9E3779B97F4A7C15UL) ^ (c * 0xC2B2AE3D27D4EB4FUL));
        return m.NextUInt64();
    }

    /// <summary>Vigna's SplitMix64: tiny, fast, and fixed forever (unlike System.Random's algorithm choice).</summary>
    private struct SplitMix64(ulong state)
    {
        private ulong _state = state;
        private float? _spare = null;

        public ulong NextUInt64()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>Standard normal by Box–Muller, in double so the float result does not depend on the runtime's float math.</summary>
        public float NextGaussian()
        {
            if (_spare is float s) { _spare = null; return s; }
            double u1 = ((NextUInt64() >> 11) + 1) * (1.0 / 9007199254740993.0); // (0, 1]
            double u2 = (NextUInt64() >> 11) * (1.0 / 9007199254740992.0);       // [0, 1)
            double r = Math.Sqrt(-2.0 * Math.Log(u1));
            _spare = (float)(r * Math.Sin(2 * Math.PI * u2));
            return (float)(r * Math.Cos(2 * Math.PI * u2));
        }
    }
}

public enum RandomInit { Embedding, Linear, Bias, Norm }

/// <summary>One tensor of a random model: Hugging Face name, shape (outermost first), initialisation.</summary>
public sealed record RandomTensor(string Name, long[] Shape, RandomInit Init)
{
    public long Rows => Shape.Length == 1 ? 1 : Shape[0];
    public long Columns => Shape[^1];
}
