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
    /// <summary>llama.cpp's name for Qwen2MoeForCausalLM (LLM_ARCH_QWEN2MOE).</summary>
    public const string MoeArchitecture = "qwen2moe";

    /// <summary>The general.architecture a config is written under.</summary>
    public static string ArchitectureOf(Qwen2Config config) => config.IsMoe ? MoeArchitecture : Architecture;

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
        // Mixture-of-experts keys, under the qwen2moe prefix (gguf-py's Keys.LLM.EXPERT_*).
        public const string ExpertCount = MoeArchitecture + ".expert_count";
        public const string ExpertUsedCount = MoeArchitecture + ".expert_used_count";
        public const string ExpertFeedForwardLength = MoeArchitecture + ".expert_feed_forward_length";
        public const string ExpertSharedFeedForwardLength = MoeArchitecture + ".expert_shared_feed_forward_length";

        /// <summary>A qwen2.* key's name under another architecture's prefix (qwen2.block_count → qwen2moe.block_count).</summary>
        public static string Under(string architecture, string key) =>
            key.StartsWith(Architecture + ".", StringComparison.Ordinal) ? architecture + key[Architecture.Length..] : key;

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
        // Qwen2-MoE (convert_hf_to_gguf.py / gguf-py tensor_mapping.py): router, shared expert and its gate.
        ("mlp.gate.weight", "ffn_gate_inp.weight"),
        ("mlp.shared_expert.gate_proj.weight", "ffn_gate_shexp.weight"),
        ("mlp.shared_expert.up_proj.weight", "ffn_up_shexp.weight"),
        ("mlp.shared_expert.down_proj.weight", "ffn_down_shexp.weight"),
        ("mlp.shared_expert_gate.weight", "ffn_gate_inp_shexp.weight"),
    ];

    /// <summary>The routed experts' projections: Hugging Face keeps one matrix per expert
    /// (mlp.experts.E.gate_proj.weight), GGUF one stack per layer [n_expert, rows, cols] (blk.N.ffn_gate_exps.weight).</summary>
    public static IReadOnlyList<(string Projection, string Stack)> ExpertStacks { get; } =
    [
        ("gate_proj", "ffn_gate_exps.weight"),
        ("up_proj", "ffn_up_exps.weight"),
        ("down_proj", "ffn_down_exps.weight"),
    ];

    /// <summary>The Hugging Face name of expert <paramref name="expert"/>'s <paramref name="projection"/> in a layer.</summary>
    public static string ExpertName(int layer, int expert, string projection) =>
        string.Create(CultureInfo.InvariantCulture, $"{HfLayerPrefix}{layer}.mlp.experts.{expert}.{projection}.weight");

    /// <summary>Whether <paramref name="ggufName"/> is a stack of expert matrices (blk.3.ffn_up_exps.weight: layer 3, up_proj).</summary>
    public static bool TryExpertStack(string ggufName, out int layer, out string projection)
    {
        layer = -1;
        projection = "";
        if (!TryLayer(ggufName, GgufLayerPrefix, out layer, out string suffix)) return false;
        foreach (var (proj, stack) in ExpertStacks)
            if (suffix == stack) { projection = proj; return true; }
        return false;
    }

    /// <summary>Whether <paramref name="hfName"/> is one expert's matrix (model.layers.3.mlp.experts.5.up_proj.weight →
    /// blk.3.ffn_up_exps.weight, expert 5).</summary>
    public static bool TryExpertMatrix(string hfName, out string stackName, out int expert)
    {
        stackName = "";
        expert = -1;
        if (!TryLayer(hfName, HfLayerPrefix, out int layer, out string suffix) || !suffix.StartsWith("mlp.experts.", StringComparison.Ordinal))
            return false;
        string rest = suffix["mlp.experts.".Length..];
        int dot = rest.IndexOf('.');
        if (dot <= 0 || !PlainNumber(rest.AsSpan(0, dot), out expert)) return false;
        foreach (var (proj, stack) in ExpertStacks)
            if (rest[(dot + 1)..] == proj + ".weight")
            {
                stackName = string.Create(CultureInfo.InvariantCulture, $"{GgufLayerPrefix}{layer}.{stack}");
                return true;
            }
        return false;
    }

    private static bool TryLayer(string name, string prefix, out int layer, out string suffix)
    {
        layer = -1;
        suffix = "";
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return false;
        int dot = name.IndexOf('.', prefix.Length);
        if (dot < 0 || !PlainNumber(name.AsSpan(prefix.Length, dot - prefix.Length), out layer)) return false;
        suffix = name[(dot + 1)..];
        return true;
    }

    /// <summary>A plain decimal without sign or leading zeros, so that a name maps back to itself.</summary>
    private static bool PlainNumber(ReadOnlySpan<char> number, out int value)
    {
        value = -1;
        return number.Length > 0 && !(number.Length > 1 && number[0] == '0')
            && int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

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
        if (arch is not (Architecture or MoeArchitecture))
            throw new FormatException(Qwen2Config.UnsupportedArchitecture($"{arch} (GGUF general.architecture)", file.Path)
                + $" A GGUF file must have general.architecture {Architecture} or {MoeArchitecture}.");
        bool moe = arch == MoeArchitecture;
        string K(string key) => Keys.Under(arch, key);

        int hidden = PositiveInt(m, K(Keys.EmbeddingLength), m.GetUInt32(K(Keys.EmbeddingLength)));
        int heads = PositiveInt(m, K(Keys.HeadCount), m.GetUInt32(K(Keys.HeadCount)));
        int kvHeads = m.TryGetUInt32(K(Keys.HeadCountKv), out uint kv) ? PositiveInt(m, K(Keys.HeadCountKv), kv) : heads;
        int layers = PositiveInt(m, K(Keys.BlockCount), m.GetUInt32(K(Keys.BlockCount)));
        foreach (string key in new[] { K(Keys.KeyLength), K(Keys.ValueLength) })
            if (m.TryGetUInt32(key, out uint length) && length != hidden / heads)
                throw new FormatException($"{file.Path}: {key} is {length}, but Qwen2 needs embedding_length / head_count = {hidden / heads}.");

        int vocab;
        if (file.TryGet("token_embd.weight", out var embedding) && embedding.Shape.Length == 2) vocab = checked((int)embedding.Shape[0]);
        else if (m.TryGetArray(Keys.Tokens, out var tokens)) vocab = tokens.Count;
        else vocab = PositiveInt(m, K(Keys.VocabSize), m.GetUInt32(K(Keys.VocabSize)));

        return new Qwen2Config
        {
            Origin = file.Path,
            Architectures = [moe ? Qwen2Config.MoeArchitecture : Qwen2Config.SupportedArchitecture],
            ModelType = moe ? "qwen2_moe" : Architecture,
            VocabSize = vocab,
            HiddenSize = hidden,
            IntermediateSize = PositiveInt(m, K(Keys.FeedForwardLength), m.GetUInt32(K(Keys.FeedForwardLength))),
            NumHiddenLayers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            MaxPositionEmbeddings = PositiveInt(m, K(Keys.ContextLength), m.GetUInt32(K(Keys.ContextLength))),
            MaxWindowLayers = layers,
            SlidingWindow = null,
            RmsNormEps = m.GetFloat32(K(Keys.RmsEpsilon)),
            // llama.cpp's default base when the key is absent.
            RopeTheta = m.TryGetFloat32(K(Keys.RopeFreqBase), out float theta) ? theta : 10000.0,
            RopeScaling = ReadRopeScaling(m, arch),
            TieWordEmbeddings = !file.Contains("output.weight"),
            BosTokenId = m.TryGetInt32(Keys.BosTokenId, out int bos) ? bos : null,
            EosTokenIds = m.TryGetInt32(Keys.EosTokenId, out int eos) ? [eos] : [],
            TorchDtype = null,
            // llama.cpp's qwen2moe graph routes every layer through experts and never renormalises the top-k weights,
            // so a GGUF file states neither decoder_sparse_step, mlp_only_layers nor norm_topk_prob.
            NumExperts = moe ? PositiveInt(m, Keys.ExpertCount, m.GetUInt32(Keys.ExpertCount)) : null,
            NumExpertsPerTok = moe ? PositiveInt(m, Keys.ExpertUsedCount, m.GetUInt32(Keys.ExpertUsedCount)) : null,
            MoeIntermediateSize = moe ? PositiveInt(m, Keys.ExpertFeedForwardLength, m.GetUInt32(Keys.ExpertFeedForwardLength)) : null,
            SharedExpertIntermediateSize = moe ? PositiveInt(m, Keys.ExpertSharedFeedForwardLength, m.GetUInt32(Keys.ExpertSharedFeedForwardLength)) : null,
            DecoderSparseStep = moe ? 1 : null,
            NormTopkProb = moe ? false : null,
        };
    }

    private static RopeScaling? ReadRopeScaling(GgufMetadata m, string arch)
    {
        string K(string key) => Keys.Under(arch, key);
        if (!m.TryGetString(K(Keys.RopeScalingType), out string type) || type == "none") return null;
        return new RopeScaling(type,
            m.TryGetFloat32(K(Keys.RopeScalingFactor), out float factor) ? factor : throw new FormatException($"{m.Origin} sets {K(Keys.RopeScalingType)} {type} but has no {K(Keys.RopeScalingFactor)}."),
            m.TryGetUInt32(K(Keys.RopeScalingOriginalContext), out uint original) ? checked((int)original) : 0,
            m.TryGetFloat32(K(Keys.RopeScalingYarnBetaFast), out float fast) ? fast : 32,
            m.TryGetFloat32(K(Keys.RopeScalingYarnBetaSlow), out float slow) ? slow : 1);
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
        string arch = ArchitectureOf(config);
        string K(string key) => Keys.Under(arch, key);
        if (config.IsMoe)
        {
            if (config.NormTopkProb == true)
                throw new ArgumentException("A Qwen2-MoE model with norm_topk_prob true cannot be written as GGUF: llama.cpp's qwen2moe never renormalises the top-k weights.");
            if (Enumerable.Range(0, config.NumHiddenLayers).FirstOrDefault(l => !config.IsSparseLayer(l), -1) is int dense and >= 0)
                throw new ArgumentException($"A Qwen2-MoE model whose layer {dense} has a dense MLP (mlp_only_layers, decoder_sparse_step) cannot be written as GGUF: llama.cpp's qwen2moe routes every layer through experts.");
        }
        writer.SetString(Keys.GeneralArchitecture, arch);
        writer.SetUInt32(K(Keys.BlockCount), (uint)config.NumHiddenLayers);
        writer.SetUInt32(K(Keys.ContextLength), (uint)config.MaxPositionEmbeddings);
        writer.SetUInt32(K(Keys.EmbeddingLength), (uint)config.HiddenSize);
        writer.SetUInt32(K(Keys.FeedForwardLength), (uint)config.IntermediateSize);
        writer.SetUInt32(K(Keys.HeadCount), (uint)config.NumAttentionHeads);
        writer.SetUInt32(K(Keys.HeadCountKv), (uint)config.NumKeyValueHeads);
        if (config.RopeScaling is { } s)
        {
            writer.SetString(K(Keys.RopeScalingType), s.Type);
            writer.SetFloat32(K(Keys.RopeScalingFactor), (float)s.Factor);
            if (s.OriginalMaxPositionEmbeddings > 0) writer.SetUInt32(K(Keys.RopeScalingOriginalContext), (uint)s.OriginalMaxPositionEmbeddings);
            if (s.BetaFast != 32) writer.SetFloat32(K(Keys.RopeScalingYarnBetaFast), (float)s.BetaFast);
            if (s.BetaSlow != 1) writer.SetFloat32(K(Keys.RopeScalingYarnBetaSlow), (float)s.BetaSlow);
        }
        writer.SetFloat32(K(Keys.RopeFreqBase), (float)config.RopeTheta);
        writer.SetFloat32(K(Keys.RmsEpsilon), (float)config.RmsNormEps);
        if (config.IsMoe)
        {
            // TextModel writes the expert counts after the norm epsilon; Qwen2MoeModel adds the two widths after that.
            writer.SetUInt32(Keys.ExpertCount, (uint)config.NumExperts!.Value);
            writer.SetUInt32(Keys.ExpertUsedCount, (uint)config.NumExpertsPerTok!.Value);
            writer.SetUInt32(Keys.ExpertFeedForwardLength, (uint)config.MoeIntermediateSize!.Value);
            writer.SetUInt32(Keys.ExpertSharedFeedForwardLength, (uint)config.SharedExpertIntermediateSize!.Value);
        }
    }
}
