using QwenSharp.Model;

namespace QwenSharp.Engine;

/// <summary>
/// One sequence's share of a step: the tokens to compute now (a decode token, a prompt chunk or a whole
/// prompt: the model does not care which), their positions and where their K and V go.
/// </summary>
/// <remarks>
/// Token i of <see cref="Tokens"/> sits at position <see cref="FirstPosition"/> + i; its K and V are written to
/// slot <see cref="KvSlot"/>(position), and it attends to positions 0 ..= its own, whose K and V are found
/// through <see cref="BlockTable"/> (positions below <see cref="FirstPosition"/> are already in the cache).
/// The memories stay valid until the next <see cref="Scheduler.Update"/>.
/// </remarks>
public readonly struct ScheduledSequence
{
    internal ScheduledSequence(long sequenceId, ReadOnlyMemory<int> tokens, int firstPosition,
        ReadOnlyMemory<int> blockTable, int blockSize, int cachedTokens, bool wantsLogits, RopeMode rope = RopeMode.Yarn)
    {
        Rope = rope;
        SequenceId = sequenceId;
        Tokens = tokens;
        FirstPosition = firstPosition;
        BlockTable = blockTable;
        BlockSize = blockSize;
        CachedTokens = cachedTokens;
        WantsLogits = wantsLogits;
    }

    public long SequenceId { get; }

    /// <summary>The rotary table the sequence runs under (all of its keys in the cache were computed under it).</summary>
    public RopeMode Rope { get; }

    /// <summary>Token ids to run this step, in order.</summary>
    public ReadOnlyMemory<int> Tokens { get; }

    /// <summary>Position of the first of <see cref="Tokens"/>, which is also how many tokens of this sequence are already in the KV cache.</summary>
    public int FirstPosition { get; }

    /// <summary>Block ids holding positions [i * BlockSize, (i + 1) * BlockSize), covering every position up to <see cref="ContextLength"/>.</summary>
    public ReadOnlyMemory<int> BlockTable { get; }

    public int BlockSize { get; }

    /// <summary>
    /// Prompt tokens this sequence found in the prefix cache when first admitted (OpenAI's
    /// usage.prompt_tokens_details.cached_tokens); unchanged by later steps or preemption.
    /// </summary>
    public int CachedTokens { get; }

    /// <summary>True when this step reaches the sequence's last known token: sample from the logits of its last row.</summary>
    public bool WantsLogits { get; }

    /// <summary>Tokens of this sequence in the KV cache once the step has run.</summary>
    public int ContextLength => FirstPosition + Tokens.Length;

    /// <summary>Flat KV slot (block * BlockSize + offset) of a position of this sequence.</summary>
    public int KvSlot(int position) => BlockTable.Span[position / BlockSize] * BlockSize + position % BlockSize;
}

/// <summary>
/// What one engine step computes: every chosen sequence with its new tokens. One model forward covers them
/// all (decode tokens and prompt chunks flattened together). Reused from step to step.
/// </summary>
public sealed class StepPlan
{
    internal readonly List<ScheduledSequence> Entries = new();
    internal readonly List<long> PreemptedIds = new();

    public StepPlan(int blockSize) => BlockSize = blockSize;

    public IReadOnlyList<ScheduledSequence> Sequences => Entries;

    public int BlockSize { get; }

    /// <summary>Sum of all sequences' token counts: the rows of the step's forward batch.</summary>
    public int NumTokens { get; internal set; }

    /// <summary>Sequences whose last row needs logits.</summary>
    public int NumLogits { get; internal set; }

    /// <summary>Sequences preempted while this plan was made: their KV is gone and they will be recomputed later (not those
    /// sent back by <see cref="Scheduler.Recompute"/>, which the engine asked for).</summary>
    public IReadOnlyList<long> Preempted => PreemptedIds;

    public bool IsEmpty => Entries.Count == 0;

    internal void Clear()
    {
        Entries.Clear();
        PreemptedIds.Clear();
        NumTokens = 0;
        NumLogits = 0;
    }
}
