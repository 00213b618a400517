using System.Text.Json;
using QwenSharp.Formats;

namespace QwenSharp.Model;

/// <summary>
/// A Qwen2 model's hyper-parameters, from a Hugging Face <c>config.json</c> (field names and defaults of
/// transformers' Qwen2Config) or from a GGUF file's <c>qwen2.*</c> keys. Parsing accepts anything well-formed,
/// so that <see cref="Validate"/> can say precisely what is not supported; call it before building a model.
/// </summary>
public sealed record Qwen2Config
{
    public const string SupportedArchitecture = "Qwen2ForCausalLM";
    /// <summary>Qwen1.5-MoE and Qwen2-57B-A14B: Qwen2 attention with a mixture-of-experts MLP (transformers' modeling_qwen2_moe.py).</summary>
    public const string MoeArchitecture = "Qwen2MoeForCausalLM";
    public static IReadOnlyList<string> SupportedArchitectures { get; } = [SupportedArchitecture, MoeArchitecture];

    /// <summary>The file or folder the config was read from, for messages.</summary>
    public string Origin { get; init; } = "config";

    public IReadOnlyList<string> Architectures { get; init; } = [SupportedArchitecture];
    public string? ModelType { get; init; } = "qwen2";
    public int VocabSize { get; init; } = 151936;
    public int HiddenSize { get; init; } = 4096;
    public int IntermediateSize { get; init; } = 22016;
    public int NumHiddenLayers { get; init; } = 32;
    public int NumAttentionHeads { get; init; } = 32;
    /// <summary>Heads of K and V (grouped-query attention); transformers defaults it to the attention heads.</summary>
    public int NumKeyValueHeads { get; init; } = 32;
    public string HiddenAct { get; init; } = "silu";
    public int MaxPositionEmbeddings { get; init; } = 32768;
    public double RmsNormEps { get; init; } = 1e-6;
    public bool TieWordEmbeddings { get; init; }
    public double RopeTheta { get; init; } = 10000.0;
    public RopeScaling? RopeScaling { get; init; }
    public bool UseSlidingWindow { get; init; }
    public int? SlidingWindow { get; init; } = 4096;
    public int MaxWindowLayers { get; init; } = 28;
    public double AttentionDropout { get; init; }
    public double InitializerRange { get; init; } = 0.02;
    public bool UseCache { get; init; } = true;
    /// <summary>The dtype the checkpoint was saved in ("bfloat16", "float16", "float32"), when stated.</summary>
    public string? TorchDtype { get; init; }
    public int? BosTokenId { get; init; }
    /// <summary>End-of-sequence ids: config.json may hold one id or a list.</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public int? EosTokenId => EosTokenIds.Count > 0 ? EosTokenIds[0] : null;

    // Qwen2-MoE fields (Qwen2MoeForCausalLM); null for a dense Qwen2. Defaults as transformers' Qwen2MoeConfig.
    public int? NumExperts { get; init; }
    public int? NumExpertsPerTok { get; init; }
    public int? MoeIntermediateSize { get; init; }
    public int? SharedExpertIntermediateSize { get; init; }
    public int? DecoderSparseStep { get; init; }
    public bool? NormTopkProb { get; init; }
    /// <summary>Layers that keep the dense MLP (intermediate_size) in a MoE model.</summary>
    public IReadOnlyList<int> MlpOnlyLayers { get; init; } = [];
    public bool? OutputRouterLogits { get; init; }
    public double? RouterAuxLossCoef { get; init; }

    public string Architecture => Architectures.Count > 0 ? Architectures[0] : ModelType ?? "(none)";
    /// <summary>A Qwen2MoeForCausalLM: some or all layers route each token through experts.</summary>
    public bool IsMoe => Architecture == MoeArchitecture;

    /// <summary>
    /// Whether <paramref name="layer"/> has the sparse MoE block, as Qwen2MoeDecoderLayer decides: not listed in
    /// mlp_only_layers, num_experts &gt; 0, and (layer + 1) a multiple of decoder_sparse_step.
    /// </summary>
    public bool IsSparseLayer(int layer) =>
        IsMoe && NumExperts > 0 && !MlpOnlyLayers.Contains(layer) && (layer + 1) % (DecoderSparseStep ?? 1) == 0;
    /// <summary>Size of one attention head: hidden_size / num_attention_heads (Qwen2 has no separate head_dim).</summary>
    public int HeadDim => HiddenSize / NumAttentionHeads;
    /// <summary>Width of the K and V projections: num_key_value_heads × head_dim.</summary>
    public int KeyValueSize => NumKeyValueHeads * HeadDim;

    /// <summary>
    /// The model's context as vLLM derives its max_model_len (_get_and_verify_max_len): max_position_embeddings, or with
    /// YaRN in rope_scaling, original_max_position_embeddings × factor (131,072 for Qwen2-7B-Instruct's card config).
    /// </summary>
    public int ContextLength => RopeScaling is { IsYarn: true } s
        ? (int)Math.Min(int.MaxValue, (long)(s.OriginalMaxPositionEmbeddings * s.Factor))
        : MaxPositionEmbeddings;

    /// <summary>Weights of the model: per layer q/o (hidden²), k/v (hidden × kv width), biases and norms, and the MLP
    /// (three matrices; in a sparse layer the router, every expert's three, the shared expert's three and its gate);
    /// the embedding, and the LM head unless tied.</summary>
    public long ParameterCount
    {
        get
        {
            long h = HiddenSize, kv = KeyValueSize, attention = 2 * h * h + 2 * h * kv + h + 2 * kv + 2 * h, total = 0;
            for (int layer = 0; layer < NumHiddenLayers; layer++)
                total += attention + (IsSparseLayer(layer)
                    ? (long)NumExperts!.Value * (h + 3 * h * (MoeIntermediateSize ?? 0)) + 3 * h * (SharedExpertIntermediateSize ?? 0) + h
                    : 3 * h * IntermediateSize);
            return total + (TieWordEmbeddings ? 1 : 2) * (long)VocabSize * h + h;
        }
    }

    /// <summary>Weights one token reads: as <see cref="ParameterCount"/> with only num_experts_per_tok experts per sparse layer
    /// ("A14B" of Qwen2-57B-A14B).</summary>
    public long ActiveParameterCount => !IsMoe ? ParameterCount : ParameterCount - Enumerable.Range(0, NumHiddenLayers)
        .Count(IsSparseLayer) * (long)(NumExperts!.Value - NumExpertsPerTok!.Value) * 3 * HiddenSize * (MoeIntermediateSize ?? 0);

    /// <summary>"494M", "7.6B": the size as model cards and llama-bench print it.</summary>
    public string SizeLabel => ParameterCount >= 1_000_000_000 ? $"{ParameterCount / 1e9:F1}B" : $"{ParameterCount / 1e6:F0}M";

    public static Qwen2Config FromFile(string path)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"Cannot read {path}: {e.Message}", e);
        }
        return FromJson(json, path);
    }

    /// <summary>Reads the GGUF file's qwen2.* keys (see <see cref="GgufNames.ReadConfig"/>).</summary>
    public static Qwen2Config FromGguf(GgufFile file) => GgufNames.ReadConfig(file);

    public static Qwen2Config FromJson(string json, string origin)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new FormatException($"{origin} is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            var r = new JsonFields(doc.RootElement, origin);
            int heads = r.Int("num_attention_heads") ?? 32;
            string? modelType = r.String("model_type");
            var architectures = r.StringList("architectures") ?? (modelType == "qwen2" || modelType == null ? [SupportedArchitecture]
                : modelType == "qwen2_moe" ? [MoeArchitecture] : [modelType]);
            bool moe = architectures.Count > 0 && architectures[0] == MoeArchitecture;
            return new Qwen2Config
            {
                Origin = origin,
                Architectures = architectures,
                ModelType = modelType,
                VocabSize = r.Int("vocab_size") ?? 151936,
                HiddenSize = r.Int("hidden_size") ?? 4096,
                IntermediateSize = r.Int("intermediate_size") ?? 22016,
                NumHiddenLayers = r.Int("num_hidden_layers") ?? 32,
                NumAttentionHeads = heads,
                NumKeyValueHeads = r.Int("num_key_value_heads") ?? heads,
                HiddenAct = r.String("hidden_act") ?? "silu",
                MaxPositionEmbeddings = r.Int("max_position_embeddings") ?? 32768,
                RmsNormEps = r.Double("rms_norm_eps") ?? 1e-6,
                TieWordEmbeddings = r.Bool("tie_word_embeddings") ?? false,
                RopeTheta = r.Double("rope_theta") ?? 10000.0,
                RopeScaling = ReadRopeScaling(r),
                UseSlidingWindow = r.Bool("use_sliding_window") ?? false,
                SlidingWindow = r.Int("sliding_window"),
                MaxWindowLayers = r.Int("max_window_layers") ?? 28,
                AttentionDropout = r.Double("attention_dropout") ?? 0,
                InitializerRange = r.Double("initializer_range") ?? 0.02,
                UseCache = r.Bool("use_cache") ?? true,
                TorchDtype = r.String("torch_dtype") ?? r.String("dtype"),
                BosTokenId = r.Int("bos_token_id"),
                EosTokenIds = r.IntOrIntList("eos_token_id") ?? [],
                NumExperts = r.Int("num_experts") ?? (moe ? 60 : null),
                NumExpertsPerTok = r.Int("num_experts_per_tok") ?? (moe ? 4 : null),
                MoeIntermediateSize = r.Int("moe_intermediate_size") ?? (moe ? 1408 : null),
                SharedExpertIntermediateSize = r.Int("shared_expert_intermediate_size") ?? (moe ? 5632 : null),
                DecoderSparseStep = r.Int("decoder_sparse_step") ?? (moe ? 1 : null),
                NormTopkProb = r.Bool("norm_topk_prob") ?? (moe ? false : null),
                MlpOnlyLayers = r.IntList("mlp_only_layers") ?? [],
                OutputRouterLogits = r.Bool("output_router_logits"),
                RouterAuxLossCoef = r.Double("router_aux_loss_coef"),
            };
        }
    }

    /// <summary>rope_scaling names its kind "type" (older transformers) or "rope_type" (newer); "default" means none.</summary>
    private static RopeScaling? ReadRopeScaling(JsonFields root)
    {
        if (root.Object("rope_scaling") is not { } r) return null;
        string type = r.String("rope_type") ?? r.String("type")
            ?? throw new FormatException($"{root.Origin}: rope_scaling has neither \"type\" nor \"rope_type\".");
        if (type == "default") return null;
        return new RopeScaling(type,
            r.Double("factor") ?? throw new FormatException($"{root.Origin}: rope_scaling of type {type} has no \"factor\"."),
            r.Int("original_max_position_embeddings") ?? 0,
            r.Double("beta_fast") ?? 32,
            r.Double("beta_slow") ?? 1);
    }

    /// <summary>The config as a Hugging Face config.json (keys sorted as save_pretrained writes them).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("architectures");
            foreach (string a in Architectures) w.WriteStringValue(a);
            w.WriteEndArray();
            w.WriteNumber("attention_dropout", AttentionDropout);
            if (BosTokenId is { } bos) w.WriteNumber("bos_token_id", bos);
            if (NumExperts != null) w.WriteNumber("decoder_sparse_step", DecoderSparseStep ?? 1);
            if (EosTokenIds.Count == 1) w.WriteNumber("eos_token_id", EosTokenIds[0]);
            else if (EosTokenIds.Count > 1)
            {
                w.WriteStartArray("eos_token_id");
                foreach (int id in EosTokenIds) w.WriteNumberValue(id);
                w.WriteEndArray();
            }
            w.WriteString("hidden_act", HiddenAct);
            w.WriteNumber("hidden_size", HiddenSize);
            w.WriteNumber("initializer_range", InitializerRange);
            w.WriteNumber("intermediate_size", IntermediateSize);
            w.WriteNumber("max_position_embeddings", MaxPositionEmbeddings);
            w.WriteNumber("max_window_layers", MaxWindowLayers);
            if (ModelType != null) w.WriteString("model_type", ModelType);
            if (IsMoe)
            {
                w.WriteStartArray("mlp_only_layers");
                foreach (int layer in MlpOnlyLayers) w.WriteNumberValue(layer);
                w.WriteEndArray();
            }
            if (MoeIntermediateSize is { } moe) w.WriteNumber("moe_intermediate_size", moe);
            if (NormTopkProb is { } norm) w.WriteBoolean("norm_topk_prob", norm);
            w.WriteNumber("num_attention_heads", NumAttentionHeads);
            if (NumExperts is { } experts) w.WriteNumber("num_experts", experts);
            if (NumExpertsPerTok is { } perTok) w.WriteNumber("num_experts_per_tok", perTok);
            w.WriteNumber("num_hidden_layers", NumHiddenLayers);
            w.WriteNumber("num_key_value_heads", NumKeyValueHeads);
            if (OutputRouterLogits is { } router) w.WriteBoolean("output_router_logits", router);
            w.WriteNumber("rms_norm_eps", RmsNormEps);
            if (RopeScaling is { } s)
            {
                w.WriteStartObject("rope_scaling");
                if (s.BetaFast != 32) w.WriteNumber("beta_fast", s.BetaFast);
                if (s.BetaSlow != 1) w.WriteNumber("beta_slow", s.BetaSlow);
                w.WriteNumber("factor", s.Factor);
                if (s.OriginalMaxPositionEmbeddings > 0) w.WriteNumber("original_max_position_embeddings", s.OriginalMaxPositionEmbeddings);
                w.WriteString("type", s.Type);
                w.WriteEndObject();
            }
            w.WriteNumber("rope_theta", RopeTheta);
            if (RouterAuxLossCoef is { } aux) w.WriteNumber("router_aux_loss_coef", aux);
            if (SharedExpertIntermediateSize is { } shared) w.WriteNumber("shared_expert_intermediate_size", shared);
            if (SlidingWindow is { } window) w.WriteNumber("sliding_window", window);
            else w.WriteNull("sliding_window");
            w.WriteBoolean("tie_word_embeddings", TieWordEmbeddings);
            if (TorchDtype != null) w.WriteString("torch_dtype", TorchDtype);
            w.WriteBoolean("use_cache", UseCache);
            w.WriteBoolean("use_sliding_window", UseSlidingWindow);
            w.WriteNumber("vocab_size", VocabSize);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Throws a <see cref="FormatException"/> with one sentence for the first thing this runtime cannot run.</summary>
    public void Validate()
    {
        if (Architectures.Count == 0 || !SupportedArchitectures.Contains(Architectures[0]))
            throw new FormatException(UnsupportedArchitecture(Architecture, Origin));
        if (UseSlidingWindow)
            throw new FormatException($"{Origin} sets use_sliding_window: true; sliding-window attention is not supported yet, only full attention.");
        if (HiddenAct != "silu")
            throw new FormatException($"{Origin} sets hidden_act {HiddenAct}; Qwen2 here supports only silu.");
        Positive(VocabSize, "vocab_size");
        Positive(HiddenSize, "hidden_size");
        Positive(IntermediateSize, "intermediate_size");
        Positive(NumHiddenLayers, "num_hidden_layers");
        Positive(NumAttentionHeads, "num_attention_heads");
        Positive(NumKeyValueHeads, "num_key_value_heads");
        Positive(MaxPositionEmbeddings, "max_position_embeddings");
        if (HiddenSize % NumAttentionHeads != 0)
            throw new FormatException($"{Origin}: hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumAttentionHeads}.");
        if (HeadDim % 2 != 0)
            throw new FormatException($"{Origin}: the head size {HeadDim} (hidden_size / num_attention_heads) is odd, but rotary embedding rotates pairs.");
        if (NumAttentionHeads % NumKeyValueHeads != 0)
            throw new FormatException($"{Origin}: num_attention_heads {NumAttentionHeads} is not a multiple of num_key_value_heads {NumKeyValueHeads}.");
        if (!(RmsNormEps > 0) || double.IsInfinity(RmsNormEps))
            throw new FormatException($"{Origin}: rms_norm_eps {RmsNormEps} must be a positive number.");
        if (!(RopeTheta > 0) || double.IsInfinity(RopeTheta))
            throw new FormatException($"{Origin}: rope_theta {RopeTheta} must be a positive number.");
        if (IsMoe) ValidateMoe();
        if (RopeScaling is { } s)
        {
            if (!s.IsYarn)
                throw new FormatException($"{Origin}: rope_scaling type {s.Type} is not supported; the supported type is {RopeScaling.Yarn}.");
            if (!(s.Factor >= 1) || double.IsInfinity(s.Factor))
                throw new FormatException($"{Origin}: rope_scaling factor {s.Factor} must be a finite number of at least 1.");
            if (s.OriginalMaxPositionEmbeddings <= 0)
                throw new FormatException($"{Origin}: rope_scaling of type yarn needs a positive original_max_position_embeddings.");
            if (!(s.BetaFast > s.BetaSlow) || !(s.BetaSlow > 0))
                throw new FormatException($"{Origin}: rope_scaling beta_fast {s.BetaFast} and beta_slow {s.BetaSlow} must satisfy beta_fast > beta_slow > 0.");
        }
    }

    private void ValidateMoe()
    {
        int experts = NumExperts ?? 0;
        Positive(experts, "num_experts");
        Positive(NumExpertsPerTok ?? 0, "num_experts_per_tok");
        if (NumExpertsPerTok > experts)
            throw new FormatException($"{Origin}: num_experts_per_tok {NumExpertsPerTok} exceeds num_experts {experts}.");
        Positive(MoeIntermediateSize ?? 0, "moe_intermediate_size");
        Positive(SharedExpertIntermediateSize ?? 0, "shared_expert_intermediate_size");
        Positive(DecoderSparseStep ?? 0, "decoder_sparse_step");
        foreach (int layer in MlpOnlyLayers)
            if ((uint)layer >= (uint)NumHiddenLayers)
                throw new FormatException($"{Origin}: mlp_only_layers lists layer {layer}, outside the model's {NumHiddenLayers} layers.");
    }

    /// <summary>The sentence for an architecture this runtime does not run, naming the supported ones.</summary>
    public static string UnsupportedArchitecture(string architecture, string origin) =>
        $"{origin} is a {architecture} model; supported architectures: {string.Join(", ", SupportedArchitectures)}.";

    private void Positive(int value, string key)
    {
        if (value <= 0) throw new FormatException($"{Origin}: {key} is {value}; it must be positive.");
    }
}
