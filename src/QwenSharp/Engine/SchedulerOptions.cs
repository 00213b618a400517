namespace QwenSharp.Engine;

/// <summary>Limits of the continuous-batching scheduler, under vLLM's names.</summary>
public sealed record SchedulerOptions
{
    /// <summary>KV blocks in the pool (the model allocates [NumBlocks, BlockSize, kvHeads, headDim] per layer for K and V).</summary>
    public required int NumBlocks { get; init; }

    /// <summary>Tokens per KV block (vLLM's block_size, 16 by default).</summary>
    public int BlockSize { get; init; } = 16;

    /// <summary>Most sequences in one step (vLLM's max_num_seqs).</summary>
    public int MaxNumSeqs { get; init; } = 256;

    /// <summary>Most tokens in one step, all sequences together; longer prompts are computed in chunks (vLLM's max_num_batched_tokens).</summary>
    public int MaxNumBatchedTokens { get; init; } = 2048;

    /// <summary>Most tokens of one sequence, prompt plus completion (vLLM's max_model_len).</summary>
    public required int MaxModelLen { get; init; }

    /// <summary>Share full blocks of equal prefixes between sequences (vLLM's enable_prefix_caching).</summary>
    public bool EnablePrefixCaching { get; init; } = true;

    internal void Validate()
    {
        Positive(NumBlocks, nameof(NumBlocks));
        Positive(BlockSize, nameof(BlockSize));
        Positive(MaxNumSeqs, nameof(MaxNumSeqs));
        Positive(MaxNumBatchedTokens, nameof(MaxNumBatchedTokens));
        Positive(MaxModelLen, nameof(MaxModelLen));
        // As vLLM: a smaller budget would leave some running sequence without its decode token every step.
        if (MaxNumBatchedTokens < MaxNumSeqs)
            throw new ArgumentOutOfRangeException(nameof(MaxNumBatchedTokens), MaxNumBatchedTokens,
                $"MaxNumBatchedTokens ({MaxNumBatchedTokens}) must be at least MaxNumSeqs ({MaxNumSeqs}), so every running sequence can decode in each step.");
    }

    private static void Positive(int value, string name)
    {
        if (value < 1)
            throw new ArgumentOutOfRangeException(name, value, $"Scheduler option {name} must be at least 1; got {value}.");
    }
}
