namespace QwenSharp.Engine;

/// <summary>Limits of an <see cref="InferenceEngine"/>, with vLLM's names where vLLM has them.</summary>
public sealed record EngineOptions
{
    /// <summary>Prompt plus generated tokens of one sequence (vLLM's max_model_len); null: the model's max_position_embeddings, capped by the KV cache.</summary>
    public int? MaxModelLen { get; init; }
    /// <summary>Sequences decoded together in one step (vLLM's max_num_seqs).</summary>
    public int MaxNumSeqs { get; init; } = 16;
    /// <summary>Tokens computed in one step: decode tokens plus prompt chunks (vLLM's max_num_batched_tokens).</summary>
    public int MaxNumBatchedTokens { get; init; } = 512;
    /// <summary>Bytes of KV cache to allocate (fp32 keys and values of every layer).</summary>
    public long KvCacheBytes { get; init; } = 2L << 30;
    /// <summary>Token slots per KV block.</summary>
    public int BlockSize { get; init; } = 16;
    public bool EnablePrefixCaching { get; init; } = true;
    /// <summary>Back the whole KV cache with memory at start (<see cref="Model.KvCache.Commit"/>): what a server wants, so
    /// its resident size does not climb for minutes as new blocks are first used. Off for one-shot runs.</summary>
    public bool CommitKvCache { get; init; }

}
