using QwenSharp.Tensors;

namespace QwenSharp.Quantization;

/// <summary>Options of a quantization run, as llama_model_quantize_params has them.</summary>
public sealed record QuantizeOptions(QuantizeFileType FileType)
{
    /// <summary>Worker threads; 0 means one per core.</summary>
    public int Threads { get; init; }
    public GgmlType? OutputTensorType { get; init; }
    public GgmlType? TokenEmbeddingType { get; init; }
    /// <summary>Every quantized tensor gets the default type: no mixture (only the row-size fallback applies).</summary>
    public bool Pure { get; init; }
    /// <summary>output.weight is copied as it is.</summary>
    public bool LeaveOutputTensor { get; init; }
    public bool AllowRequantize { get; init; }
}

/// <summary>
/// Chooses each tensor's type the way llama.cpp's llama-quant.cpp does for a Qwen2 or Qwen2-MoE (non-Falcon) model:
/// which tensors may be quantized (tensor_allows_quantization: not vectors, norms, nor a MoE router ffn_gate_inp), the
/// mixtures of the _S/_M/_L types (llama_tensor_get_type_impl: more bits for some attn_v, ffn_down and attn_output
/// layers, Q6_K for the output matrix; with exactly 8 experts, Mixtral's rules for attn_v, attn_k and attn_output), and
/// the fallback to a 32-value block type when a row is not a whole number of 256-value blocks
/// (tensor_type_fallback). Stateful like llama.cpp's quantize_state: the attn_v and ffn_down counters advance in
/// file order, so call <see cref="Choose"/> once per tensor, in order. In a MoE model an ffn_down tensor's layer is
/// read from its name (blk.N.), as llama.cpp's layer_info does when n_expert &gt; 1, so the routed and shared experts'
/// ffn_down of a layer get the same type.
/// </summary>
public sealed class TensorTypeChoice
{
    private readonly QuantizeOptions _options;
    private readonly QuantizeModelInfo _model;
    private readonly GgmlType _default;
    private readonly bool _hasOutput;
    private readonly int _attentionV;
    private readonly int _ffnDown;
    private int _attentionVSeen;
    private int _ffnDownSeen;

    public TensorTypeChoice(QuantizeOptions options, IReadOnlyList<string> tensorNames, QuantizeModelInfo? model = null)
    {
        _options = options;
        _model = model ?? QuantizeModelInfo.Unknown;
        _default = QuantizeFileTypes.DefaultType(options.FileType);
        _hasOutput = tensorNames.Contains("output.weight");
        _attentionV = tensorNames.Count(n => n.Contains("attn_v.weight", StringComparison.Ordinal));
        _ffnDown = tensorNames.Count(n => n.Contains("ffn_down", StringComparison.Ordinal));
    }

    /// <summary>The type the tensor is written in; its own type when it is copied.</summary>
    public GgmlType Choose(string name, GgmlType current, long[] shape)
    {
        if (!AllowsQuantization(name, shape)) return current;
        if (_options.TokenEmbeddingType is { } te && name == "token_embd.weight") return te;
        if (_options.OutputTensorType is { } ot && name == "output.weight") return ot;
        var type = _default;
        if (!IsBlockType(type)) return type;
        if (!_options.Pure) type = Mixture(name, type, shape[^1]);
        return Fallback(type, shape[^1]);
    }

    private bool AllowsQuantization(string name, long[] shape)
    {
        if (GgmlDims(shape) < 2) return false;
        if (!name.EndsWith("weight", StringComparison.Ordinal)) return false;
        if (name.Contains("_norm.weight", StringComparison.Ordinal)) return false;
        if (name.Contains("ffn_gate_inp.weight", StringComparison.Ordinal)) return false;
        if (_options.LeaveOutputTensor && name == "output.weight") return false;
        return true;
    }

    /// <summary>ggml_n_dims: dimensions up to the last one above 1 (a [1, hidden] tensor has one).</summary>
    private static int GgmlDims(long[] shape)
    {
        int leadingOnes = 0;
        while (leadingOnes < shape.Length - 1 && shape[leadingOnes] == 1) leadingOnes++;
        return Math.Max(1, shape.Length - leadingOnes);
    }

    public static bool IsBlockType(GgmlType type) => type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16);

    // llama.cpp's rule for the layers that get more bits: the first and last eighth, and every third in between.
    private static bool UseMoreBits(int layer, int layers) =>
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    private GgmlType Mixture(string name, GgmlType type, long columns)
    {
        var ftype = _options.FileType;
        // Without an output matrix the token embedding doubles as it (tied embeddings) and is treated as one.
        if (name == "output.weight" || (!_hasOutput && name == "token_embd.weight"))
        {
            if (columns % GgmlTypeInfo.BlockSize(type) != 0) return GgmlType.Q8_0;
            return type != GgmlType.Q8_0 ? GgmlType.Q6_K : type;
        }
        if (name == "token_embd.weight") return type;
        if (name.Contains("attn_v.weight", StringComparison.Ordinal))
        {
            type = AttentionV(ftype, type, _attentionVSeen, _attentionV);
            if (_model.Experts == 8) type = GgmlType.Q8_0; // "for the 8-expert model, bumping this to Q8_0 trades just ~128MB"
            _attentionVSeen++;
            return type;
        }
        if (name.Contains("attn_k.weight", StringComparison.Ordinal))
            return _model.Experts == 8 ? GgmlType.Q8_0 : type;
        if (name.Contains("ffn_down", StringComparison.Ordinal))
        {
            var (layer, layers) = FfnDownLayer(name);
            type = FfnDown(ftype, type, layer, layers);
            _ffnDownSeen++;
            return type;
        }
        if (name.Contains("attn_output.weight", StringComparison.Ordinal))
        {
            if (_model.Experts == 8)
                return ftype is QuantizeFileType.Q2_K or QuantizeFileType.Q3_K_S or QuantizeFileType.Q3_K_M or QuantizeFileType.IQ4_NL
                    or QuantizeFileType.Q4_K_S or QuantizeFileType.Q4_K_M or QuantizeFileType.IQ4_XS ? GgmlType.Q5_K : type;
            return ftype switch
            {
                QuantizeFileType.Q2_K => GgmlType.Q3_K,
                QuantizeFileType.Q3_K_M => GgmlType.Q4_K,
                QuantizeFileType.Q3_K_L => GgmlType.Q5_K,
                _ => type,
            };
        }
        return type;
    }

    private GgmlType AttentionV(QuantizeFileType ftype, GgmlType type, int layer, int layers)
    {
        bool manyHeadsPerKv = _model.HeadsPerKvHead >= 4;
        if (ftype == QuantizeFileType.Q2_K) type = manyHeadsPerKv ? GgmlType.Q4_K : GgmlType.Q3_K;
        else if (ftype == QuantizeFileType.Q3_K_M) type = layer < 2 ? GgmlType.Q5_K : GgmlType.Q4_K;
        else if (ftype == QuantizeFileType.Q3_K_L) type = GgmlType.Q5_K;
        else if (ftype is QuantizeFileType.IQ4_NL or QuantizeFileType.IQ4_XS && manyHeadsPerKv) type = GgmlType.Q5_K;
        else if (ftype is QuantizeFileType.Q4_K_M or QuantizeFileType.Q5_K_M && UseMoreBits(layer, layers)) type = GgmlType.Q6_K;
        else if (ftype == QuantizeFileType.Q4_K_S && layer < 4) type = GgmlType.Q5_K;
        // llama.cpp's "70B" models (80 layers for Qwen2) share each v projection among many heads: more bits there.
        if (_model.Layers == 80 && type is GgmlType.Q3_K or GgmlType.Q4_K) type = GgmlType.Q5_K;
        return type;
    }

    /// <summary>llama.cpp's layer_info: the ffn_down counter and count, or, when n_expert &gt; 1, the layer named by the
    /// tensor (blk.N.) out of the model's layers, so a MoE layer's routed and shared ffn_down get the same type.</summary>
    private (int Layer, int Layers) FfnDownLayer(string name)
    {
        if (_model.Experts <= 1) return (_ffnDownSeen, _ffnDown);
        int layers = _model.Layers, dot = name.IndexOf('.', 4);
        if (!name.StartsWith("blk.", StringComparison.Ordinal) || dot < 0
            || !int.TryParse(name.AsSpan(4, dot - 4), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int layer)
            || layer >= layers)
            throw new ArgumentException($"Tensor {name}: its layer is not a block number below the model's {layers} layers.");
        return (layer, layers);
    }

    private static GgmlType FfnDown(QuantizeFileType ftype, GgmlType type, int layer, int layers) => ftype switch
    {
        QuantizeFileType.Q2_K => GgmlType.Q3_K,
        // Q3_K_M's Q3_K for layers outside use_more_bits applies to Falcon only.
        QuantizeFileType.Q3_K_M => layer < layers / 16 ? GgmlType.Q5_K : GgmlType.Q4_K,
        QuantizeFileType.Q3_K_L => GgmlType.Q5_K,
        QuantizeFileType.Q4_K_M => UseMoreBits(layer, layers) ? GgmlType.Q6_K : type,
        // Without an importance matrix the IQ4 types give the first eighth of the layers Q5_K.
        QuantizeFileType.IQ4_NL or QuantizeFileType.IQ4_XS => layer < layers / 8 ? GgmlType.Q5_K : type,
        QuantizeFileType.Q5_K_M => UseMoreBits(layer, layers) ? GgmlType.Q6_K : type,
        QuantizeFileType.Q4_K_S => layer < layers / 8 ? GgmlType.Q5_K : type,
        _ => type,
    };

    /// <summary>A 256-block type needs whole blocks per row; llama.cpp falls back to a 32-block type, and to F16 when
    /// even 32 does not divide the row.</summary>
    private static GgmlType Fallback(GgmlType type, long columns)
    {
        if (columns % GgmlTypeInfo.BlockSize(type) == 0) return type;
        var fallback = type switch
        {
            GgmlType.IQ4_XS => GgmlType.IQ4_NL,
            GgmlType.Q2_K or GgmlType.Q3_K => GgmlType.Q4_0,
            GgmlType.Q4_K => GgmlType.Q5_0,
            GgmlType.Q5_K => GgmlType.Q5_1,
            GgmlType.Q6_K => GgmlType.Q8_0,
            _ => throw new ArgumentException($"A row of {columns} values is not a whole number of {type} blocks of {GgmlTypeInfo.BlockSize(type)}, and llama.cpp defines no fallback for {type}."),
        };
        return columns % GgmlTypeInfo.BlockSize(fallback) == 0 ? fallback : GgmlType.F16;
    }
}
