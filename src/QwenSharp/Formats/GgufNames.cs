using System.Globalization;
using QwenSharp.Model;

namespace QwenSharp.Formats;

/// <summary>
/// The one place that knows GGUF names: tensor names (Hugging Face ↔ llama.cpp's convert_hf_to_gguf.py mapping for
/// qwen2) and metadata keys (Qwen2Config ↔ qwen2.*, tokenizer.ggml.*). Qwen2 GGUF files keep Q and K weights in
/// Hugging Face row order (unlike LLaMA's permuted ones), so only names change.
/// </summary>
public static class GgufNames
{
    public const string Architecture = "qwen2";

    /// <summary>Metadata keys (gguf-py's constants.py Keys).</summary>
    public static class Keys
    {
        public const string GeneralArchitecture = "general.architecture";
        public const string GeneralName = "general.name";
        public const string GeneralAlignment = GgufFile.AlignmentKey;
        public const string GeneralFileType = "general.file_type";
        public const string GeneralQuantizationVersion = "general.quantization_version";
        public const string GeneralType = "general.type";
        public const string GeneralBasename = "general.basename";
        public const string GeneralFinetune = "general.finetune";
        public const string GeneralVersion = "general.version";
        public const string GeneralOrganization = "general.organization";
        public const string GeneralSizeLabel = "general.size_label";
        public const string ContextLength = Architecture + ".context_length";
        public const string EmbeddingLength = Architecture + ".embedding_length";
        public const string BlockCount = Architecture + ".block_count";
        public const string FeedForwardLength = Architecture + ".feed_forward_length";
        public const string HeadCount = Architecture + ".attention.head_count";
        public const string HeadCountKv = Architecture + ".attention.head_count_kv";
        public const string KeyLength = Architecture + ".attention.key_length";
        public const string ValueLength = Architecture + ".attention.value_length";
        public const string RmsEpsilon = Architecture + ".attention.layer_norm_rms_epsilon";
        public const string RopeFreqBase = Architecture + ".rope.freq_base";
        public const string RopeScalingType = Architecture + ".rope.scaling.type";
        public const string RopeScalingFactor = Architecture + ".rope.scaling.factor";
        public const string RopeScalingOriginalContext = Architecture + ".rope.scaling.original_context_length";
        public const string RopeScalingYarnBetaFast = Architecture + ".rope.scaling.yarn_beta_fast";
        public const string RopeScalingYarnBetaSlow = Architecture + ".rope.scaling.yarn_beta_slow";
        public const string VocabSize = Architecture + ".vocab_size";

        public const string TokenizerModel = "tokenizer.ggml.model";
        public const string TokenizerPre = "tokenizer.ggml.pre";
        public const string Tokens = "tokenizer.ggml.tokens";
        public const string TokenType = "tokenizer.ggml.token_type";
        public const string Merges = "tokenizer.ggml.merges";
        public const string BosTokenId = "tokenizer.ggml.bos_token_id";
        public const string EosTokenId = "tokenizer.ggml.eos_token_id";
        public const string PaddingTokenId = "tokenizer.ggml.padding_token_id";
        public const string UnknownTokenId = "tokenizer.ggml.unknown_token_id";
        public const string AddBosToken = "tokenizer.ggml.add_bos_token";
        public const string AddEosToken = "tokenizer.ggml.add_eos_token";
        public const string ChatTemplate = "tokenizer.chat_template";
    }

    private static readonly (string Hf, string Gguf)[] TopLevel =
    [
        ("model.embed_tokens.weight", "token_embd.weight"),
        ("model.norm.weight", "output_norm.weight"),
        ("lm_head.weight", "output.weight"),
    ];

    private static readonly (string Hf, string Gguf)[] PerLayer =
    [
        ("input_layernorm.weight", "attn_norm.weight"),
        ("self_attn.q_proj.weight", "attn_q.weight"),
        ("self_attn.q_proj.bias", "attn_q.bias"),
        ("self_attn.k_proj.weight", "attn_k.weight"),
        ("self_attn.k_proj.bias", "attn_k.bias"),
        ("self_attn.v_proj.weight", "attn_v.weight"),
        ("self_attn.v_proj.bias", "attn_v.bias"),
        ("self_attn.o_proj.weight", "attn_output.weight"),
        ("post_attention_layernorm.weight", "ffn_norm.weight"),
        ("mlp.gate_proj.weight", "ffn_gate.weight"),
        ("mlp.up_proj.weight", "ffn_up.weight"),
        ("mlp.down_proj.weight", "ffn_down.weight"),
    ];

    private const string HfLayerPrefix = "model.layers.";
    private const string GgufLayerPrefix = "blk.";

    /// <summary>The GGUF name of a Hugging Face tensor name (model.layers.3.mlp.up_proj.weight → blk.3.ffn_up.weight).</summary>
    public static bool TryToGguf(string hfName, out string ggufName) =>
        TryMap(hfName, HfLayerPrefix, GgufLayerPrefix, fromHf: true, out ggufName);

    /// <summary>The Hugging Face name of a GGUF tensor name (blk.3.ffn_up.weight → model.layers.3.mlp.up_proj.weight).</summary>
    public static bool TryToHuggingFace(string ggufName, out string hfName) =>
        TryMap(ggufName, GgufLayerPrefix, HfLayerPrefix, fromHf: false, out hfName);

    public static string ToGguf(string hfName) => TryToGguf(hfName, out var n) ? n
        : throw new ArgumentException($"Tensor {hfName} has no GGUF name in the qwen2 mapping.");

    public static string ToHuggingFace(string ggufName) => TryToHuggingFace(ggufName, out var n) ? n
        : throw new ArgumentException($"Tensor {ggufName} has no Hugging Face name in the qwen2 mapping.");

    private static bool TryMap(string name, string fromPrefix, string toPrefix, bool fromHf, out string mapped)
    {
        foreach (var (hf, gguf) in TopLevel)
            if (name == (fromHf ? hf : gguf)) { mapped = fromHf ? gguf : hf; return true; }

        mapped = "";
        if (!name.StartsWith(fromPrefix, StringComparison.Ordinal)) return false;
        int dot = name.IndexOf('.', fromPrefix.Length);
        if (dot < 0) return false;
        var number = name.AsSpan(fromPrefix.Length, dot - fromPrefix.Length);
        // Layer numbers are plain decimals without sign or leading zeros, so a name maps back to itself.
        if (number.Length == 0 || (number.Length > 1 && number[0] == '0') || !int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            return false;
        string suffix = name[(dot + 1)..];
        foreach (var (hf, gguf) in PerLayer)
            if (suffix == (fromHf ? hf : gguf))
            {
                mapped = string.Concat(toPrefix, number, ".", fromHf ? gguf : hf);
                return true;
            }
        return false;
    }

    /// <summary>
    /// A Qwen2Config from a GGUF file as llama.cpp reads one: qwen2.* hyper-parameters, the vocabulary size from
    /// token_embd.weight (else the token list), tied embeddings when output.weight is absent, bos/eos from tokenizer.ggml.*.
    /// </summary>
    public static Qwen2Config ReadConfig(GgufFile file)
    {
        var m = file.Metadata;
        string arch = m.GetString(Keys.GeneralArchitecture);
        if (arch != Architecture)
            throw new FormatException(Qwen2Config.UnsupportedArchitecture($"{arch} (GGUF general.architecture)", file.Path)
                + $" A GGUF file must have general.architecture {Architecture}.");

        int hidden = PositiveInt(m, Keys.EmbeddingLength, m.GetUInt32(Keys.EmbeddingLength));
        int heads = PositiveInt(m, Keys.HeadCount, m.GetUInt32(Keys.HeadCount));
        int kvHeads = m.TryGetUInt32(Keys.HeadCountKv, out uint kv) ? PositiveInt(m, Keys.HeadCountKv, kv) : heads;
        int layers = PositiveInt(m, Keys.BlockCount, m.GetUInt32(Keys.BlockCount));
        foreach (string key in new[] { Keys.KeyLength, Keys.ValueLength })
            if (m.TryGetUInt32(key, out uint length) && length != hidden / heads)
                throw new FormatException($"{file.Path}: {key} is {length}, but Qwen2 needs embedding_length / head_count = {hidden / heads}.");

        int vocab;
        if (file.TryGet("token_embd.weight", out var embedding) && embedding.Shape.Length == 2) vocab = checked((int)embedding.Shape[0]);
        else if (m.TryGetArray(Keys.Tokens, out var tokens)) vocab = tokens.Count;
        else vocab = PositiveInt(m, Keys.VocabSize, m.GetUInt32(Keys.VocabSize));

        return new Qwen2Config
        {
            Origin = file.Path,
            Architectures = [Qwen2Config.SupportedArchitecture],
            ModelType = Architecture,
            VocabSize = vocab,
            HiddenSize = hidden,
            IntermediateSize = PositiveInt(m, Keys.FeedForwardLength, m.GetUInt32(Keys.FeedForwardLength)),
            NumHiddenLayers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            MaxPositionEmbeddings = PositiveInt(m, Keys.ContextLength, m.GetUInt32(Keys.ContextLength)),
            MaxWindowLayers = layers,
            SlidingWindow = null,
            RmsNormEps = m.GetFloat32(Keys.RmsEpsilon),
            // llama.cpp's default base when the key is absent.
            RopeTheta = m.TryGetFloat32(Keys.RopeFreqBase, out float theta) ? theta : 10000.0,
            RopeScaling = ReadRopeScaling(m),
            TieWordEmbeddings = !file.Contains("output.weight"),
            BosTokenId = m.TryGetInt32(Keys.BosTokenId, out int bos) ? bos : null,
            EosTokenIds = m.TryGetInt32(Keys.EosTokenId, out int eos) ? [eos] : [],
            TorchDtype = null,
        };
    }

    private static RopeScaling? ReadRopeScaling(GgufMetadata m)
    {
        if (!m.TryGetString(Keys.RopeScalingType, out string type) || type == "none") return null;
        return new RopeScaling(type,
            m.TryGetFloat32(Keys.RopeScalingFactor, out float factor) ? factor : throw new FormatException($"{m.Origin} sets {Keys.RopeScalingType} {type} but has no {Keys.RopeScalingFactor}."),
            m.TryGetUInt32(Keys.RopeScalingOriginalContext, out uint original) ? checked((int)original) : 0,
            m.TryGetFloat32(Keys.RopeScalingYarnBetaFast, out float fast) ? fast : 32,
            m.TryGetFloat32(Keys.RopeScalingYarnBetaSlow, out float slow) ? slow : 1);
    }

    private static int PositiveInt(GgufMetadata m, string key, uint value) =>
        value is > 0 and <= int.MaxValue ? (int)value : throw new FormatException($"{m.Origin}: metadata key {key} is {value}; it must be a positive 32-bit count.");

    /// <summary>
    /// Writes the qwen2.* hyper-parameters of <paramref name="config"/> in the order convert_hf_to_gguf.py's
    /// TextModel.set_gguf_parameters writes them (block count first; YaRN as rope.scaling.type/factor/
    /// original_context_length before the rope base; beta_fast/slow only when not the defaults 32/1).
    /// Tokenizer keys and general.file_type are the caller's (see <see cref="Keys"/>).
    /// </summary>
    public static void WriteConfig(Qwen2Config config, GgufWriter writer)
    {
        writer.SetString(Keys.GeneralArchitecture, Architecture);
        writer.SetUInt32(Keys.BlockCount, (uint)config.NumHiddenLayers);
        writer.SetUInt32(Keys.ContextLength, (uint)config.MaxPositionEmbeddings);
        writer.SetUInt32(Keys.EmbeddingLength, (uint)config.HiddenSize);
        writer.SetUInt32(Keys.FeedForwardLength, (uint)config.IntermediateSize);
        writer.SetUInt32(Keys.HeadCount, (uint)config.NumAttentionHeads);
        writer.SetUInt32(Keys.HeadCountKv, (uint)config.NumKeyValueHeads);
        if (config.RopeScaling is { } s)
        {
            writer.SetString(Keys.RopeScalingType, s.Type);
            writer.SetFloat32(Keys.RopeScalingFactor, (float)s.Factor);
            if (s.OriginalMaxPositionEmbeddings > 0) writer.SetUInt32(Keys.RopeScalingOriginalContext, (uint)s.OriginalMaxPositionEmbeddings);
            if (s.BetaFast != 32) writer.SetFloat32(Keys.RopeScalingYarnBetaFast, (float)s.BetaFast);
            if (s.BetaSlow != 1) writer.SetFloat32(Keys.RopeScalingYarnBetaSlow, (float)s.BetaSlow);
        }
        writer.SetFloat32(Keys.RopeFreqBase, (float)config.RopeTheta);
        writer.SetFloat32(Keys.RmsEpsilon, (float)config.RmsNormEps);
    }
}
