using System.Runtime.InteropServices;
using QwenSharp.Model;

namespace QwenSharp.Engine;

/// <summary>
/// The continuous-batching scheduler, after vLLM v1's: one loop of <see cref="Schedule"/> (pick the tokens of
/// this step), the model's forward, <see cref="Update"/> (record sampled tokens and finished sequences).
/// There is no prefill phase and no decode phase: every sequence simply has tokens it has not computed yet,
/// one after a decode, many for a new prompt, and each step takes as many as the token budget allows.
/// It sees token counts and block ids, never tensors. Not thread-safe: the engine loop owns it and applies
/// submissions and aborts between steps.
/// </summary>
/// <remarks>
/// The engine loop around it:
/// <code>
/// apply queued Submit/Abort calls
/// var plan = scheduler.Schedule();               // empty: nothing to do, wait for a request
/// model.Forward(plan.Sequences ...);             // one forward; one logits row per sequence with WantsLogits
/// for each sequence with WantsLogits: sample a token, decide Finished (stop token/string, max tokens)
/// scheduler.Update(outcomes);                    // finished sequences free their blocks here
/// </code>
/// </remarks>
public sealed class Scheduler
{
    private readonly SchedulerOptions _options;
    private readonly int _blockSize;
    private readonly KvBlockAllocator _blocks;
    private readonly PrefixCache? _cache;
    private readonly Dictionary<long, Sequence> _byId = new();
    private readonly List<Sequence> _running = new();          // in order of arrival: the last is the newest
    private readonly LinkedList<Sequence> _waiting = new();    // front first; preempted sequences go to the front
    private readonly List<Sequence> _scheduled = new();        // the pending plan's sequences
    private readonly List<PrefixBlock> _match = new();         // scratch for prefix lookups
    private readonly StepPlan _plan;
    private long _nextId = 1;
    private long _arrivals;
    private bool _planPending;

    public Scheduler(SchedulerOptions options)
    {
        options.Validate();
        _options = options;
        _blockSize = options.BlockSize;
        _blocks = new KvBlockAllocator(options.NumBlocks, options.BlockSize);
        _cache = options.EnablePrefixCaching ? new PrefixCache(_blocks) : null;
        _plan = new StepPlan(options.BlockSize);
    }

    public SchedulerOptions Options => _options;

    /// <summary>The block pool (its size and usage are the KV cache metrics).</summary>
    public KvBlockAllocator Blocks => _blocks;

    /// <summary>The prefix cache and its hit counters, or null when prefix caching is off.</summary>
    public PrefixCache? PrefixCache => _cache;

    public int NumRunning => _running.Count;
    public int NumWaiting => _waiting.Count;

    /// <summary>True while any submitted sequence has not finished or been aborted.</summary>
    public bool HasUnfinished => _byId.Count > 0;

    /// <summary>Sequences preempted since start (vLLM's num_preemptions).</summary>
    public long NumPreemptions { get; private set; }

    /// <summary>Sequences sent back to be recomputed under another rotary table since start (<see cref="Recompute"/>).</summary>
    public long NumRecomputes { get; private set; }

    /// <summary>
    /// Why a request of this size can never run, in one sentence naming both token counts and the limit, or
    /// null when it fits. The server can call this to answer 400 before submitting.
    /// </summary>
    public string? Refusal(int promptTokens, int maxTokens) => Check(promptTokens, maxTokens)?.Message;

    /// <summary>
    /// Queues a request: its prompt token ids and the most tokens it may generate. Returns its sequence id.
    /// A request that can never fit throws <see cref="RequestRefusedException"/>; nothing is queued then.
    /// <paramref name="rope"/> tags the sequence's blocks in the prefix cache (the engine decides it).
    /// </summary>
    public long Submit(ReadOnlySpan<int> prompt, int maxTokens, RopeMode rope = RopeMode.Yarn)
    {
        while (_byId.ContainsKey(_nextId)) _nextId++;
        return Submit(_nextId++, prompt, maxTokens, rope);
    }

    /// <summary>
    /// Queues a request under the caller's id (e.g. one taken from a thread-safe counter before the request
    /// reaches the engine loop), unique among unfinished sequences. Order of arrival is the order of calls.
    /// </summary>
    public long Submit(long sequenceId, ReadOnlySpan<int> prompt, int maxTokens, RopeMode rope = RopeMode.Yarn)
    {
        if (Check(prompt.Length, maxTokens) is { } refusal) throw refusal;
        if (_byId.ContainsKey(sequenceId))
            throw new ArgumentException($"Sequence id {sequenceId} is already in use by an unfinished sequence.", nameof(sequenceId));
        var seq = new Sequence(sequenceId, _arrivals++, prompt, maxTokens, _blockSize, rope) { Status = SequenceStatus.Waiting };
        _byId.Add(seq.Id, seq);
        seq.WaitingNode = _waiting.AddLast(seq);
        return seq.Id;
    }

    /// <summary>
    /// Picks this step's work: running sequences first, oldest first (each its next decode token or prompt
    /// chunk), then waiting ones within the remaining token budget, as vLLM does. When blocks run out the
    /// newest running sequence is preempted. The plan is reused: it is valid until the next call.
    /// </summary>
    public StepPlan Schedule()
    {
        if (_planPending)
            throw new InvalidOperationException("Schedule was called twice without Update: report the previous step's outcomes first.");
        _plan.Clear();
        _scheduled.Clear();
        int budget = _options.MaxNumBatchedTokens;

        for (int i = 0; i < _running.Count && budget > 0; i++)
        {
            var seq = _running[i];
            int count = Math.Min(seq.NumTokens - seq.NumComputed, budget);
            if (!MakeRoom(seq, BlocksFor(seq.NumComputed + count) - seq.NumBlocks))
                break; // it was the newest: itself preempted, nobody after it left
            AllocateUpTo(seq, seq.NumComputed + count);
            Add(seq, count);
            budget -= count;
        }

        // vLLM admits nothing new in a step that had to preempt: memory is short.
        if (_plan.PreemptedIds.Count == 0)
            AdmitWaiting(budget);

        _planPending = !_plan.IsEmpty;
        return _plan;
    }

    /// <summary>
    /// Records the step: every scheduled sequence's tokens are now in the KV cache; sampled tokens are appended;
    /// finished sequences (or ones that reached their max tokens) free their blocks now. Outcomes for sequences
    /// aborted since the plan are ignored. Each sequence whose step wanted logits needs a new token or Finished.
    /// </summary>
    public void Update(ReadOnlySpan<SequenceOutcome> outcomes)
    {
        if (!_planPending && _plan.IsEmpty && outcomes.IsEmpty) return;
        if (!_planPending)
            throw new InvalidOperationException("Update was called without a pending Schedule.");

        // Check everything before changing anything, so a wrong call leaves the books intact.
        foreach (var seq in _scheduled) seq.OutcomeSeen = false;
        foreach (var outcome in outcomes)
        {
            if (!_byId.TryGetValue(outcome.SequenceId, out var seq) || seq.Status != SequenceStatus.Running || seq.ScheduledTokens == 0)
            {
                if (outcome.NewToken is not null && _byId.ContainsKey(outcome.SequenceId))
                    throw new InvalidOperationException($"Sequence {outcome.SequenceId} got a token but was not in this step.");
                continue;
            }
            if (seq.OutcomeSeen)
                throw new InvalidOperationException($"Sequence {seq.Id} has two outcomes in one step.");
            seq.OutcomeSeen = true;
            if (outcome.NewToken is not null && !seq.ScheduledWantsLogits)
                throw new InvalidOperationException($"Sequence {seq.Id} got a token, but its step stopped inside the prompt ({seq.NumComputed + seq.ScheduledTokens} of {seq.NumTokens} tokens) and wanted no logits.");
            if (outcome.NewToken is null && !outcome.Finished && seq.ScheduledWantsLogits)
                throw new InvalidOperationException($"Sequence {seq.Id} reached its last token this step but got neither a new token nor Finished.");
        }
        foreach (var seq in _scheduled)
        {
            if (seq.Status == SequenceStatus.Running && seq.ScheduledWantsLogits && !seq.OutcomeSeen)
                throw new InvalidOperationException($"Sequence {seq.Id} reached its last token this step but has no outcome.");
        }

        _planPending = false;
        foreach (var seq in _scheduled)
        {
            if (seq.Status != SequenceStatus.Running) continue; // aborted meanwhile
            seq.NumComputed += seq.ScheduledTokens;
            seq.ScheduledTokens = 0;
            CacheFullBlocks(seq);
        }
        foreach (var outcome in outcomes)
        {
            if (!_byId.TryGetValue(outcome.SequenceId, out var seq)) continue;
            if (outcome.NewToken is int token) seq.Append(token);
            if (outcome.Finished || seq.NumGenerated >= seq.MaxTokens) Release(seq);
        }
    }

    /// <summary>
    /// Forgets the pending plan after its forward failed: nothing of the step is recorded, so its sequences stay
    /// where they were (the tokens they were to compute are still uncomputed, no block of theirs is offered to the
    /// prefix cache) and the next <see cref="Schedule"/> may run. The engine then aborts the sequences it fails.
    /// False when no plan was pending.
    /// </summary>
    public bool CancelStep()
    {
        if (!_planPending) return false;
        _planPending = false;
        foreach (var seq in _scheduled) seq.ScheduledTokens = 0;
        _scheduled.Clear();
        _plan.Clear();
        return true;
    }

    /// <summary>
    /// Sends a sequence back to be recomputed under <paramref name="rope"/>: as a preemption by recompute, its blocks are
    /// freed now and it waits at the front of the queue with its tokens (prompt and generated); its next admission
    /// prefills all of them again, under the new table, and its last token's logits continue it. Its old blocks stay in
    /// the prefix cache under the old table. Called between steps only; false when the sequence is unknown.
    /// </summary>
    public bool Recompute(long sequenceId, RopeMode rope)
    {
        if (_planPending)
            throw new InvalidOperationException("Recompute was called while a step is pending: call it after Update.");
        if (!_byId.TryGetValue(sequenceId, out var seq)) return false;
        if (seq.Status == SequenceStatus.Running)
        {
            _running.Remove(seq);
            FreeBlocks(seq);
            seq.NumComputed = 0;
            seq.Status = SequenceStatus.Waiting;
            seq.WaitingNode = _waiting.AddFirst(seq);
        }
        seq.Rope = rope;
        NumRecomputes++;
        return true;
    }

    /// <summary>The tokens a sequence holds now (prompt plus generated), or null when unknown.</summary>
    public int? NumTokens(long sequenceId) => _byId.TryGetValue(sequenceId, out var seq) ? seq.NumTokens : null;

    /// <summary>Drops a sequence (its client went away) and frees its blocks now. False when unknown or already finished.</summary>
    public bool Abort(long sequenceId)
    {
        if (!_byId.TryGetValue(sequenceId, out var seq)) return false;
        Release(seq);
        return true;
    }

    /// <summary>Prompt tokens the sequence found in the prefix cache when first admitted; 0 before admission; null when unknown.</summary>
    public int? CachedTokens(long sequenceId) =>
        _byId.TryGetValue(sequenceId, out var seq) ? Math.Max(seq.CachedTokens, 0) : null;

    internal Sequence? Find(long sequenceId) => _byId.GetValueOrDefault(sequenceId);

    internal IReadOnlyList<Sequence> Running => _running;

    internal IEnumerable<Sequence> Waiting => _waiting;

    private RequestRefusedException? Check(int promptTokens, int maxTokens)
    {
        if (promptTokens < 1)
            return new RequestRefusedException("The prompt is empty; at least one token is needed.", promptTokens, maxTokens, _options.MaxModelLen);
        if (maxTokens < 1)
            return new RequestRefusedException($"max_tokens must be at least 1; got {maxTokens}.", promptTokens, maxTokens, _options.MaxModelLen);
        long total = (long)promptTokens + maxTokens;
        if (total > _options.MaxModelLen)
            return new RequestRefusedException(
                $"This model's maximum context length is {_options.MaxModelLen} tokens, but {total} were requested ({promptTokens} in the prompt, {maxTokens} for the completion); shorten the prompt or lower max_tokens.",
                promptTokens, maxTokens, _options.MaxModelLen);
        long capacity = (long)_options.NumBlocks * _blockSize;
        if (total > capacity)
            return new RequestRefusedException(
                $"The KV cache holds {capacity} tokens ({_options.NumBlocks} blocks of {_blockSize}), but {total} were requested ({promptTokens} in the prompt, {maxTokens} for the completion); shorten the prompt or lower max_tokens.",
                promptTokens, maxTokens, (int)Math.Min(capacity, int.MaxValue));
        return null;
    }

    private void AdmitWaiting(int budget)
    {
        while (budget > 0 && _waiting.First is { } node && _running.Count < _options.MaxNumSeqs)
        {
            var seq = node.Value;
            _match.Clear();
            int hitBlocks = 0, revived = 0;
            if (_cache is not null)
            {
                // Keep at least the last token to compute: its logits are what the step is for (as vLLM).
                hitBlocks = _cache.Match(seq.Tokens.AsSpan(0, seq.NumTokens), (seq.NumTokens - 1) / _blockSize, _match, seq.Rope);
                foreach (var link in _match)
                    if (_blocks.RefCount(link.Block) == 0) revived++;
            }
            int computed = hitBlocks * _blockSize;
            int count = Math.Min(seq.NumTokens - computed, budget);
            int fresh = BlocksFor(computed + count) - hitBlocks;
            if (fresh + revived > _blocks.NumFree) break; // first come, first served: nobody overtakes it

            _waiting.Remove(node);
            seq.WaitingNode = null;
            foreach (var link in _match)
            {
                _blocks.Fork(link.Block);
                seq.BlockTable[seq.NumBlocks++] = link.Block;
                seq.Chain.Add(link);
            }
            seq.NumComputed = computed;
            if (seq.CachedTokens < 0) seq.CachedTokens = computed;
            _cache?.Record(seq.NumTokens, computed);
            AllocateUpTo(seq, computed + count);
            seq.Status = SequenceStatus.Running;
            InsertRunning(seq);
            Add(seq, count);
            budget -= count;
        }
    }

    /// <summary>Frees blocks by preempting the newest running sequences until <paramref name="needed"/> are free; false when <paramref name="seq"/> itself had to go.</summary>
    private bool MakeRoom(Sequence seq, int needed)
    {
        while (needed > _blocks.NumFree)
        {
            var victim = _running[^1];
            Preempt(victim);
            if (victim == seq) return false;
        }
        return true;
    }

    /// <summary>
    /// Takes a running sequence's blocks away and puts it at the front of the waiting queue; it keeps its
    /// tokens (prompt and generated) and is recomputed from them later, much of it from the prefix cache.
    /// </summary>
    private void Preempt(Sequence seq)
    {
        _running.RemoveAt(_running.Count - 1);
        FreeBlocks(seq);
        seq.NumComputed = 0;
        seq.Status = SequenceStatus.Waiting;
        seq.WaitingNode = _waiting.AddFirst(seq);
        _plan.PreemptedIds.Add(seq.Id);
        NumPreemptions++;
    }

    private void Release(Sequence seq)
    {
        if (seq.Status == SequenceStatus.Running) _running.Remove(seq);
        else if (seq.WaitingNode is not null) _waiting.Remove(seq.WaitingNode);
        seq.WaitingNode = null;
        FreeBlocks(seq);
        seq.Status = SequenceStatus.Finished;
        _byId.Remove(seq.Id);
    }

    private void FreeBlocks(Sequence seq)
    {
        // Last block first, as vLLM: a prefix's tail is evicted before its head, which more sequences share.
        for (int b = seq.NumBlocks - 1; b >= 0; b--) _blocks.Free(seq.BlockTable[b]);
        seq.NumBlocks = 0;
        seq.Chain.Clear();
        seq.ScheduledTokens = 0;
    }

    private void AllocateUpTo(Sequence seq, int tokens)
    {
        int blocks = BlocksFor(tokens);
        while (seq.NumBlocks < blocks) seq.BlockTable[seq.NumBlocks++] = _blocks.Allocate();
    }

    private void CacheFullBlocks(Sequence seq)
    {
        if (_cache is null) return;
        int full = seq.NumComputed / _blockSize;
        for (int b = seq.Chain.Count; b < full; b++)
        {
            PrefixBlock? parent = b == 0 ? null : seq.Chain[b - 1];
            seq.Chain.Add(_cache.Register(parent, seq.BlockTable[b], seq.Tokens.AsSpan(b * _blockSize, _blockSize), seq.Rope));
        }
    }

    private void InsertRunning(Sequence seq)
    {
        int at = _running.Count;
        while (at > 0 && _running[at - 1].Arrival > seq.Arrival) at--;
        _running.Insert(at, seq);
    }

    private void Add(Sequence seq, int count)
    {
        bool wantsLogits = seq.NumComputed + count == seq.NumTokens;
        seq.ScheduledTokens = count;
        seq.ScheduledWantsLogits = wantsLogits;
        _scheduled.Add(seq);
        _plan.Entries.Add(new ScheduledSequence(seq.Id, seq.Tokens.AsMemory(seq.NumComputed, count), seq.NumComputed,
            seq.BlockTable.AsMemory(0, seq.NumBlocks), _blockSize, Math.Max(seq.CachedTokens, 0), wantsLogits, seq.Rope));
        _plan.NumTokens += count;
        if (wantsLogits) _plan.NumLogits++;
    }

    private int BlocksFor(int tokens) => (tokens + _blockSize - 1) / _blockSize;
}
