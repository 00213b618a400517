using QwenSharp.Engine;

namespace QwenSharp.Tests.Engine;

/// <summary>
/// A stand-in for the model that checks what a real one would rely on. Its "KV cache" stores, per slot, the
/// token, position and rotary table written there (a key rotated under another table is a wrong key); each step it reads every earlier position of a sequence back through the
/// block table and asserts it holds that sequence's token, writes the new tokens (only into blocks the
/// sequence owns alone), and "samples" the next token as a hash of the whole context read from the cache.
/// So a wrong block table, a shared block overwritten or a prefix reused wrongly changes the output.
/// </summary>
internal sealed class FakeModel
{
    public const int Vocab = 50;
    private readonly Scheduler _scheduler;
    private readonly int[] _slotToken;
    private readonly int[] _slotPosition;
    private readonly QwenSharp.Model.RopeMode[] _slotRope;
    private readonly List<int> _context = new();

    public FakeModel(Scheduler scheduler)
    {
        _scheduler = scheduler;
        int slots = scheduler.Options.NumBlocks * scheduler.Options.BlockSize;
        _slotToken = new int[slots];
        _slotPosition = Enumerable.Repeat(-1, slots).ToArray();
        _slotRope = new QwenSharp.Model.RopeMode[slots];
    }

    /// <summary>Tokens run through the model so far (prompt chunks and decode tokens).</summary>
    public long ComputedTokens { get; private set; }

    /// <summary>The next token after a context: what a greedy model would produce, the same in any batch.</summary>
    public static int NextToken(IReadOnlyList<int> context)
    {
        ulong h = 1469598103934665603UL;
        foreach (int t in context) h = (h ^ (uint)t) * 1099511628211UL;
        h ^= h >> 29;
        return (int)(h % Vocab);
    }

    /// <summary>Runs one step; returns the next token of each sequence that wants logits (by sequence id).</summary>
    public Dictionary<long, int> Execute(StepPlan plan, Func<long, IReadOnlyList<int>> knownTokens)
    {
        var sampled = new Dictionary<long, int>();
        var written = new HashSet<int>();
        int total = 0;
        foreach (var s in plan.Sequences)
        {
            var known = knownTokens(s.SequenceId);
            Assert.True(s.BlockTable.Length * s.BlockSize >= s.ContextLength, $"sequence {s.SequenceId}: block table too short");
            _context.Clear();
            for (int pos = 0; pos < s.FirstPosition; pos++)
            {
                int slot = s.KvSlot(pos);
                Assert.True(_slotPosition[slot] == pos && _slotToken[slot] == known[pos],
                    $"sequence {s.SequenceId}: KV slot {slot} for position {pos} holds ({_slotToken[slot]}@{_slotPosition[slot]}), expected {known[pos]}");
                Assert.True(_slotRope[slot] == s.Rope, $"sequence {s.SequenceId} under {s.Rope} reads position {pos} computed under {_slotRope[slot]}");
                _context.Add(_slotToken[slot]);
            }
            var tokens = s.Tokens.Span;
            for (int i = 0; i < tokens.Length; i++)
            {
                int pos = s.FirstPosition + i;
                Assert.Equal(known[pos], tokens[i]);
                int block = s.BlockTable.Span[pos / s.BlockSize];
                Assert.True(_scheduler.Blocks.RefCount(block) == 1, $"sequence {s.SequenceId} writes into block {block} shared by {_scheduler.Blocks.RefCount(block)}");
                int slot = s.KvSlot(pos);
                Assert.True(written.Add(slot), $"slot {slot} written twice in one step");
                _slotToken[slot] = tokens[i];
                _slotPosition[slot] = pos;
                _slotRope[slot] = s.Rope;
                _context.Add(tokens[i]);
            }
            Assert.Equal(s.WantsLogits, s.ContextLength == known.Count);
            if (s.WantsLogits) sampled[s.SequenceId] = NextToken(_context);
            total += tokens.Length;
        }
        Assert.Equal(plan.NumTokens, total);
        Assert.True(total <= _scheduler.Options.MaxNumBatchedTokens, $"step of {total} tokens exceeds the budget");
        Assert.True(plan.Sequences.Count <= _scheduler.Options.MaxNumSeqs);
        ComputedTokens += total;
        return sampled;
    }

    /// <summary>What the sequence generates alone: greedy NextToken until max tokens or the stop token.</summary>
    public static List<int> Reference(IReadOnlyList<int> prompt, int maxTokens, int? stopToken)
    {
        var context = new List<int>(prompt);
        var output = new List<int>();
        while (output.Count < maxTokens)
        {
            int t = NextToken(context);
            context.Add(t);
            output.Add(t);
            if (t == stopToken) break;
        }
        return output;
    }
}
