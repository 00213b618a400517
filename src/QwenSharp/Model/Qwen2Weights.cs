using QwenSharp.Formats;
using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Model;

/// <summary>
/// One decoder layer's weights, named as in transformers' modeling_qwen2.py. Matrices stay in the mapped
/// file in their own format; norm weights and biases (a few KB) are read once into fp32.
/// </summary>
public sealed class Qwen2LayerWeights
{
    public required float[] input_layernorm;          // [hidden]
    public required TensorView q_proj;                // [heads * head_dim, hidden]
    public required float[] q_bias;                   // [heads * head_dim]
    public required TensorView k_proj;                // [kv_heads * head_dim, hidden]
    public required float[] k_bias;                   // [kv_heads * head_dim]
    public required TensorView v_proj;                // [kv_heads * head_dim, hidden]
    public required float[] v_bias;                   // [kv_heads * head_dim]
    public required TensorView o_proj;                // [hidden, heads * head_dim]
    public required float[] post_attention_layernorm; // [hidden]
    // A dense layer has the three MLP matrices; a sparse layer of a MoE model has mlp (the expert block) instead.
    public TensorView? gate_proj;                     // [intermediate, hidden]
    public TensorView? up_proj;                       // [intermediate, hidden]
    public TensorView? down_proj;                     // [hidden, intermediate]
    public Qwen2MoeBlockWeights? mlp;                 // Qwen2MoeSparseMoeBlock
}

/// <summary>One sparse layer's MLP, named as transformers' Qwen2MoeSparseMoeBlock: the router, the routed experts
/// (each a SwiGLU MLP of moe_intermediate_size) and the always-on shared expert with its sigmoid gate.</summary>
public sealed class Qwen2MoeBlockWeights
{
    public required TensorView gate;                  // [num_experts, hidden] the router
    public required TensorView[] experts_gate_proj;   // [num_experts] of [moe_intermediate, hidden]
    public required TensorView[] experts_up_proj;     // [num_experts] of [moe_intermediate, hidden]
    public required TensorView[] experts_down_proj;   // [num_experts] of [hidden, moe_intermediate]
    public required TensorView shared_expert_gate_proj; // [shared_intermediate, hidden]
    public required TensorView shared_expert_up_proj;   // [shared_intermediate, hidden]
    public required TensorView shared_expert_down_proj; // [hidden, shared_intermediate]
    public required float[] shared_expert_gate;       // [hidden] (a [1, hidden] linear in the checkpoint)
}

/// <summary>All weights of a Qwen2 model, checked against the config at load.</summary>
public sealed class Qwen2Weights
{
    public required TensorView embed_tokens;          // [vocab, hidden]
    public required Qwen2LayerWeights[] layers;       // [num_hidden_layers]
    public required float[] norm;                     // [hidden]
    public required TensorView lm_head;               // [vocab, hidden]; embed_tokens itself when tied

    /// <summary>The format of the MLP matrices (of the first expert in a sparse layer), as bench and the server name a file's type.</summary>
    public Tensors.GgmlType MlpType => layers[0].gate_proj?.Type ?? layers[0].mlp!.experts_gate_proj[0].Type;

    /// <summary>
    /// Takes every tensor the config implies from <paramref name="source"/> (Hugging Face names), checks each
    /// shape, and refuses missing and unexpected tensors with their names.
    /// </summary>
    public static Qwen2Weights Load(IWeightSource source, Qwen2Config config)
    {
        int hidden = config.HiddenSize, heads = config.NumAttentionHeads, kvHeads = config.NumKeyValueHeads;
        int headDim = config.HeadDim, inter = config.IntermediateSize, vocab = config.VocabSize;
        var used = new HashSet<string>(StringComparer.Ordinal);

        TensorView Matrix(string name, long rows, long cols)
        {
            var t = Take(name);
            if (t.Shape.Length != 2 || t.Shape[0] != rows || t.Shape[1] != cols)
                throw new FormatException($"{source.Origin}: tensor {name} has shape {t.ShapeText}; the config implies [{rows}, {cols}].");
            return t;
        }
        float[] Vector(string name, long length, bool oneRow = false)
        {
            var t = Take(name);
            if (t.ElementCount != length || !(t.Shape.Length == 1 || (oneRow && t.Shape is [1, _])))
                throw new FormatException($"{source.Origin}: tensor {name} has shape {t.ShapeText}; the config implies [{length}].");
            var values = new float[length];
            unsafe { Dequantize.Row(t.Type, t.Pointer, values); }
            return values;
        }
        TensorView Take(string name)
        {
            if (!source.Contains(name))
                throw new FormatException($"{source.Origin}: tensor {name} is missing.");
            used.Add(name);
            return source.Get(name);
        }

        var embed = Matrix("model.embed_tokens.weight", vocab, hidden);
        var layers = new Qwen2LayerWeights[config.NumHiddenLayers];
        for (int i = 0; i < layers.Length; i++)
        {
            string p = $"model.layers.{i}.";
            layers[i] = new Qwen2LayerWeights
            {
                input_layernorm = Vector(p + "input_layernorm.weight", hidden),
                q_proj = Matrix(p + "self_attn.q_proj.weight", heads * headDim, hidden),
                q_bias = Vector(p + "self_attn.q_proj.bias", heads * headDim),
                k_proj = Matrix(p + "self_attn.k_proj.weight", kvHeads * headDim, hidden),
                k_bias = Vector(p + "self_attn.k_proj.bias", kvHeads * headDim),
                v_proj = Matrix(p + "self_attn.v_proj.weight", kvHeads * headDim, hidden),
                v_bias = Vector(p + "self_attn.v_proj.bias", kvHeads * headDim),
                o_proj = Matrix(p + "self_attn.o_proj.weight", hidden, heads * headDim),
                post_attention_layernorm = Vector(p + "post_attention_layernorm.weight", hidden),
            };
            if (config.IsSparseLayer(i))
            {
                int experts = config.NumExperts!.Value, moe = config.MoeIntermediateSize!.Value, shared = config.SharedExpertIntermediateSize!.Value;
                TensorView[] Experts(string projection, long rows, long cols)
                {
                    var views = new TensorView[experts];
                    for (int e = 0; e < experts; e++) views[e] = Matrix(GgufNames.ExpertName(i, e, projection), rows, cols);
                    return views;
                }
                layers[i].mlp = new Qwen2MoeBlockWeights
                {
                    gate = Matrix(p + "mlp.gate.weight", experts, hidden),
                    experts_gate_proj = Experts("gate_proj", moe, hidden),
                    experts_up_proj = Experts("up_proj", moe, hidden),
                    experts_down_proj = Experts("down_proj", hidden, moe),
                    shared_expert_gate_proj = Matrix(p + "mlp.shared_expert.gate_proj.weight", shared, hidden),
                    shared_expert_up_proj = Matrix(p + "mlp.shared_expert.up_proj.weight", shared, hidden),
                    shared_expert_down_proj = Matrix(p + "mlp.shared_expert.down_proj.weight", hidden, shared),
                    shared_expert_gate = Vector(p + "mlp.shared_expert_gate.weight", hidden, oneRow: true),
                };
            }
            else
            {
                layers[i].gate_proj = Matrix(p + "mlp.gate_proj.weight", inter, hidden);
                layers[i].up_proj = Matrix(p + "mlp.up_proj.weight", inter, hidden);
                layers[i].down_proj = Matrix(p + "mlp.down_proj.weight", hidden, inter);
            }
        }
        var norm = Vector("model.norm.weight", hidden);
        // Tied checkpoints (0.5B, 1.5B) ship no lm_head; some tied exports still include a copy, which is used.
        var lmHead = source.Contains("lm_head.weight") ? Matrix("lm_head.weight", vocab, hidden)
            : config.TieWordEmbeddings ? embed
            : throw new FormatException($"{source.Origin}: tensor lm_head.weight is missing and tie_word_embeddings is false.");

        var unexpected = source.TensorNames.Where(n => !used.Contains(n) && !n.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal)).Take(3).ToList();
        if (unexpected.Count > 0)
            throw new FormatException($"{source.Origin}: unexpected tensor {string.Join(", ", unexpected)} for a Qwen2 model of {config.NumHiddenLayers} layers.");

        return new Qwen2Weights { embed_tokens = embed, layers = layers, norm = norm, lm_head = lmHead };
    }
}
