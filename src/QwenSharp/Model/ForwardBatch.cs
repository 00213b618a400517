namespace QwenSharp.Model;

/// <summary>Which positions of a sequence need logits in a forward step.</summary>
public enum LogitsWanted
{
    /// <summary>None (a prefill chunk that does not reach the end of the known tokens).</summary>
    None,
    /// <summary>The last token only (decode, or the final prefill chunk).</summary>
    Last,
    /// <summary>Every token (perplexity, scoring, tests).</summary>
    All,
}

/// <summary>
/// The new tokens of one sequence in a forward step: they sit at positions FirstPosition, FirstPosition+1, …,
/// and every earlier position of the sequence is already in the KV cache under the same block table, rotated under the
/// same <see cref="Rope"/> (the config's YaRN by default, or plain RoPE).
/// </summary>
public sealed record BatchSequence(ReadOnlyMemory<int> Tokens, int FirstPosition, ReadOnlyMemory<int> BlockTable,
    LogitsWanted Logits = LogitsWanted.Last, RopeMode Rope = RopeMode.Yarn)
{
    public int EndPosition => FirstPosition + Tokens.Length;
}

/// <summary>
/// One step's work: tokens of one or more sequences, flattened in order. The same batch type serves a
/// prefill (many tokens of one sequence), a decode (one token of many sequences) and any mix.
/// </summary>
public sealed class ForwardBatch
{
    private readonly List<BatchSequence> _sequences = new();

    public IReadOnlyList<BatchSequence> Sequences => _sequences;
    public int TokenCount { get; private set; }

    /// <summary>Rows of logits the step produces: one per sequence with <see cref="LogitsWanted.Last"/>, one per token with All.</summary>
    public int LogitRows { get; private set; }

    public ForwardBatch Add(BatchSequence sequence)
    {
        if (sequence.Tokens.Length == 0) throw new ArgumentException("A batch sequence needs at least one token.");
        if (sequence.FirstPosition < 0) throw new ArgumentException($"First position {sequence.FirstPosition} is negative.");
        _sequences.Add(sequence);
        TokenCount += sequence.Tokens.Length;
        LogitRows += sequence.Logits switch { LogitsWanted.All => sequence.Tokens.Length, LogitsWanted.Last => 1, _ => 0 };
        return this;
    }

    public ForwardBatch Add(ReadOnlyMemory<int> tokens, int firstPosition, ReadOnlyMemory<int> blockTable, LogitsWanted logits = LogitsWanted.Last,
        RopeMode rope = RopeMode.Yarn) =>
        Add(new BatchSequence(tokens, firstPosition, blockTable, logits, rope));

    public void Clear()
    {
        _sequences.Clear();
        TokenCount = 0;
        LogitRows = 0;
    }
}
