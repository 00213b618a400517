using QwenSharp.Tensors;

namespace QwenSharp.Engine;

/// <summary>Limits of an <see cref="InferenceEngine"/>, with vLLM's names where vLLM has them.</summary>
public sealed record EngineOptions
{
    /// <summary>Prompt plus generated tokens of one sequence (vLLM's max_model_len); null: the model's context
    /// (<see cref="Model.Qwen2Config.ContextLength"/>), capped by the KV cache.</summary>
    public int? MaxModelLen { get; init; }
    /// <summary>Sequences decoded together in one step (vLLM's max_num_seqs).</summary>
    public int MaxNumSeqs { get; init; } = 16;
    /// <summary>Tokens computed in one step: decode tokens plus prompt chunks (vLLM's max_num_batched_tokens).</summary>
    public int MaxNumBatchedTokens { get; init; } = 512;
    /// <summary>Bytes of KV cache to allocate (keys and values of every layer, in <see cref="KvCacheType"/>); null: what
    /// free memory leaves after the weights (<see cref="MemoryPlan"/>, when loaded through <see cref="LoadedModel"/>), or
    /// <see cref="MemoryPlan.FallbackKvBytes"/> for an engine built directly.</summary>
    public long? KvCacheBytes { get; init; }
    /// <summary>How keys and values are stored (llama.cpp's -ctk/-ctv; F16 by default, as there).</summary>
    public KvCacheType KvCacheType { get; init; } = KvCacheType.F16;
    /// <summary>Token slots per KV block.</summary>
    public int BlockSize { get; init; } = 16;
    public bool EnablePrefixCaching { get; init; } = true;
    /// <summary>Back the whole KV cache with memory at start (<see cref="Model.KvCache.Commit"/>): what a server wants, so
    /// its resident size does not climb for minutes as new blocks are first used. Off for one-shot runs.</summary>
    public bool CommitKvCache { get; init; }
    /// <summary>How each sequence's rotary table is chosen when the config has YaRN (<c>--rope-scaling-mode</c>); no effect
    /// without rope_scaling.</summary>
    public Model.RopeScalingMode RopeScalingMode { get; init; } = Model.RopeScalingMode.LengthAware;

}
