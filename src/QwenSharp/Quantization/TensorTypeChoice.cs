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
/// mixtures of the _S/_M types (llama_tensor_get_type_impl: more bits for some attn_v and ffn_down layers, Q6_K for
/// the output matrix; with exactly 8 experts, Mixtral's rule: attn_v and attn_k Q8_0, attn_output Q5_K for Q4_K_*), and
/// the fallback to a 32-value block type when a row is not a whole number of 256-value blocks
/// (tensor_type_fallback). Stateful like llama.cpp's quantize_state: the attn_v and ffn_down counters advance in
/// file order, so call <see cref="Choose"/> once per tensor, in order. In a MoE model an ffn_down tensor's layer is
/// read from its name (blk.N.), as llama.cpp's layer_info does when n_expert &gt; 1, so the routed and shared experts'
/// ffn_down of a layer get the same type.
/// </summary>
public sealed class TensorTypeChoice
{
    private readonly QuantizeOptions _options;
    private readonly GgmlType _default;
    private readonly bool _hasOutput;
    private readonly int _attentionV;
    private readonly int _ffnDown;
    private readonly int _experts;
    private readonly int _layers;
    private int _attentionVSeen;
    private int _ffnDownSeen;

    /// <param name="experts">The model's expert_count (0 for a dense model).</param>
    /// <param name="layers">The model's block_count (used for a MoE model's ffn_down layers).</param>
    public TensorTypeChoice(QuantizeOptions options, IReadOnlyList<string> tensorNames, int experts = 0, int layers = 0)
    {
        _options = options;
        _experts = experts;
        _layers = layers;
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
        if (name.Contains("attn_v.weight", StringComparison.Ordinal))
        {
            if (ftype is QuantizeFileType.Q4_K_M or QuantizeFileType.Q5_K_M && UseMoreBits(_attentionVSeen, _attentionV))
                type = GgmlType.Q6_K;
            else if (ftype == QuantizeFileType.Q4_K_S && _attentionVSeen < 4)
                type = GgmlType.Q5_K;
            if (_experts == 8) type = GgmlType.Q8_0;
            _attentionVSeen++;
            return type;
        }
        if (name.Contains("attn_k.weight", StringComparison.Ordinal))
            return _experts == 8 ? GgmlType.Q8_0 : type;
        if (name.Contains("attn_output.weight", StringComparison.Ordinal))
            return _experts == 8 && ftype is QuantizeFileType.Q4_K_S or QuantizeFileType.Q4_K_M ? GgmlType.Q5_K : type;
        if (name.Contains("ffn_down", StringComparison.Ordinal))
        {
            int layer = _ffnDownSeen, layers = _ffnDown;
            if (_experts > 1)
            {
                layers = _layers;
                int dot = name.IndexOf('.', 4);
                if (!name.StartsWith("blk.", StringComparison.Ordinal) || dot < 0
                    || !int.TryParse(name.AsSpan(4, dot - 4), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out layer)
                    || layer >= layers)
                    throw new ArgumentException($"Tensor {name}: its layer is not a block number below the model's {layers} layers.");
            }
            if (ftype == QuantizeFileType.Q4_K_M && UseMoreBits(layer, layers)) type = GgmlType.Q6_K;
            else if (ftype == QuantizeFileType.Q5_K_M && UseMoreBits(layer, layers)) type = GgmlType.Q6_K;
            else if (ftype == QuantizeFileType.Q4_K_S && layer < layers / 8) type = GgmlType.Q5_K;
            _ffnDownSeen++;
            return type;
        }
        return type;
    }

    /// <summary>A K-quant needs whole 256-value blocks per row; llama.cpp falls back to the nearest 32-block type,
    /// and to F16 when even 32 does not divide the row.</summary>
    private static GgmlType Fallback(GgmlType type, long columns)
    {
        if (columns % GgmlTypeInfo.BlockSize(type) == 0) return type;
        var fallback = type switch
        {
            GgmlType.Q4_K => GgmlType.Q5_0,
            GgmlType.Q5_K => GgmlType.Q5_1,
            GgmlType.Q6_K => GgmlType.Q8_0,
            _ => throw new ArgumentException($"A row of {columns} values is not a whole number of {type} blocks of {GgmlTypeInfo.BlockSize(type)}, and llama.cpp defines no fallback for {type}."),
        };
        return columns % GgmlTypeInfo.BlockSize(fallback) == 0 ? fallback : GgmlType.F16;
    }
}
