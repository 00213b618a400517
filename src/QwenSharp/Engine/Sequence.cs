using QwenSharp.Model;

namespace QwenSharp.Engine;

internal enum SequenceStatus { Waiting, Running, Finished }

/// <summary>The scheduler's book on one request: its tokens, how many are in the KV cache, its blocks.</summary>
internal sealed class Sequence
{
    public Sequence(long id, long arrival, ReadOnlySpan<int> prompt, int maxTokens, int blockSize, RopeMode rope)
    {
        Id = id;
        Rope = rope;
        Arrival = arrival;
        PromptLength = prompt.Length;
        MaxTokens = maxTokens;
        // Sized for the longest it may grow, so the memories handed to the model never move.
        Tokens = new int[prompt.Length + maxTokens];
        prompt.CopyTo(Tokens);
        NumTokens = prompt.Length;
        BlockTable = new int[(Tokens.Length + blockSize - 1) / blockSize];
        Chain = new List<PrefixBlock>(BlockTable.Length);
    }

    public long Id { get; }

    /// <summary>The rotary table its keys are computed under; part of its prefix-cache keys. Changed only by a recompute.</summary>
    public RopeMode Rope { get; set; }

    /// <summary>Submission order: a larger value is a newer sequence (the first preempted).</summary>
    public long Arrival { get; }
    public int PromptLength { get; }
    public int MaxTokens { get; }
    public int[] Tokens { get; }          // [PromptLength + MaxTokens] prompt then generated ids
    public int NumTokens { get; private set; }
    public int NumGenerated => NumTokens - PromptLength;

    /// <summary>Tokens whose K and V are in the cache (positions 0 .. NumComputed - 1).</summary>
    public int NumComputed { get; set; }

    public int[] BlockTable { get; }      // [ceil((PromptLength + MaxTokens) / blockSize)] first NumBlocks used
    public int NumBlocks { get; set; }

    /// <summary>Prefix-cache links of the full computed blocks, in order.</summary>
    public List<PrefixBlock> Chain { get; }

    /// <summary>Prompt tokens served from the prefix cache at the first admission; -1 before it.</summary>
    public int CachedTokens { get; set; } = -1;

    public SequenceStatus Status { get; set; }
    public LinkedListNode<Sequence>? WaitingNode { get; set; }

    /// <summary>Tokens in the pending step (0 when not scheduled) and whether that step ends on its last token.</summary>
    public int ScheduledTokens { get; set; }
    public bool ScheduledWantsLogits { get; set; }
    public bool OutcomeSeen { get; set; }

    public void Append(int token)
    {
        if (NumTokens == Tokens.Length)
            throw new InvalidOperationException($"Sequence {Id} already has its {MaxTokens} completion tokens; no more can be appended.");
        Tokens[NumTokens++] = token;
    }
}
