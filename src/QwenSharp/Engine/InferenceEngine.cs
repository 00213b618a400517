using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using QwenSharp.Generation;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Engine;

/// <summary>
/// Many requests → batched forward steps. One loop thread runs the three verbs of every step: the
/// <see cref="Scheduler"/> picks running sequences and prompt chunks within the token budget and free KV
/// blocks; one <see cref="Qwen2Model.Forward"/> computes all of them (weights read once per step); each
/// sequence that reached its last token samples through its <see cref="GenerationState"/>, and the outcome goes
/// back to the scheduler. Requests join at the next step and leave the step they finish; a consumer that stops
/// listening or cancels frees its blocks within one step. On a model whose config has YaRN, the engine picks each
/// sequence's rotary table (<see cref="RopePolicy"/>) and sends a plain sequence that grows past the original context
/// back to the scheduler to be recomputed under YaRN (<see cref="Scheduler.Recompute"/>).
/// </summary>
public sealed class InferenceEngine : IDisposable
{
    private readonly Qwen2Model _model;
    private readonly Func<bool, IIncrementalDecoder> _decoders;
    private readonly Scheduler _scheduler;
    private readonly KvCache _cache;
    private readonly ConcurrentQueue<Request> _incoming = new();
    private readonly ConcurrentQueue<Request> _aborts = new();
    private readonly Dictionary<long, Request> _active = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Thread _loop;
    private readonly ForwardBatch _batch = new();
    private readonly List<SequenceOutcome> _outcomes = new();
    private readonly SamplingScratch _scratch = new();
    private readonly List<long> _stepIds = new();
    private readonly TaskCompletionSource<Exception> _faulted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _vocabSize;
    private readonly RopePolicy _rope;
    private int _inFlight;
    private int _failedSteps;
    private const int MaxFailedStepsInARow = 8;
    /// <summary>Called on the loop thread before each forward; tests make a step fail through it.</summary>
    internal Action<StepPlan>? BeforeForward;
    private volatile bool _stopping;
    private long _promptTokens, _generatedTokens, _steps;

    /// <param name="decoders">makes a fresh incremental decoder for one sequence; the flag is skip_special_tokens</param>
    public InferenceEngine(Qwen2Model model, Func<bool, IIncrementalDecoder> decoders, EngineOptions? options = null)
    {
        options ??= new EngineOptions();
        _model = model;
        _decoders = decoders;
        var c = model.Config;
        _vocabSize = c.VocabSize;
        _rope = new RopePolicy(c.RopeScaling, options.RopeScalingMode);
        long bytesPerToken = KvCache.BytesPerToken(c, options.KvCacheType);
        long kvCacheBytes = options.KvCacheBytes ?? MemoryPlan.FallbackKvBytes;
        int maxModelLen = options.MaxModelLen ?? c.ContextLength;
        long tokens = Math.Max(kvCacheBytes / bytesPerToken, Math.Min(maxModelLen, 4096));
        long rowBytes = options.KvCacheType.Bytes(c.KeyValueSize);
        int numBlocks = (int)Math.Min(tokens / options.BlockSize, Array.MaxLength / (options.BlockSize * rowBytes));
        MaxModelLen = options.MaxModelLen ?? Math.Min(maxModelLen, numBlocks * options.BlockSize);
        if (MaxModelLen > numBlocks * options.BlockSize)
            throw new ArgumentException($"max_model_len {MaxModelLen} needs {MaxModelLen * bytesPerToken / (1 << 20)} MiB of {options.KvCacheType.Name()} KV cache; the cache holds {numBlocks * options.BlockSize} tokens ({kvCacheBytes / (1 << 20)} MiB).");
        _cache = new KvCache(c.NumHiddenLayers, c.NumKeyValueHeads, c.HeadDim, numBlocks, options.BlockSize, options.KvCacheType);
        if (options.CommitKvCache) _cache.Commit();
        MaxNumBatchedTokens = Math.Max(options.MaxNumBatchedTokens, options.MaxNumSeqs);
        _scheduler = new Scheduler(new SchedulerOptions
        {
            NumBlocks = numBlocks,
            BlockSize = options.BlockSize,
            MaxNumSeqs = options.MaxNumSeqs,
            MaxNumBatchedTokens = MaxNumBatchedTokens,
            MaxModelLen = MaxModelLen,
            EnablePrefixCaching = options.EnablePrefixCaching,
        });
        _loop = new Thread(Loop) { IsBackground = true, Name = "qwensharp-engine" };
        _loop.Start();
    }

    public Qwen2Model Model => _model;
    /// <summary>How sequences choose between plain RoPE and the config's YaRN.</summary>
    public RopePolicy Rope => _rope;
    public int MaxModelLen { get; }
    /// <summary>Tokens computed in one step at most (decode tokens plus prompt chunks).</summary>
    public int MaxNumBatchedTokens { get; }
    public long KvCacheBytes => _cache.Bytes;
    public KvCacheType KvCacheType => _cache.Type;
    /// <summary>Token slots of the KV cache.</summary>
    public int KvCacheTokens => _cache.Capacity;

    /// <summary>Why a request of this size can never run (naming both counts and the limit), or null.</summary>
    public string? Refusal(int promptTokens, int maxTokens) => _scheduler.Refusal(promptTokens, maxTokens);

    public EngineStats Stats => new(_scheduler.NumRunning, _scheduler.NumWaiting, _scheduler.Blocks.Usage,
        _scheduler.PrefixCache?.QueriedTokens ?? 0, _scheduler.PrefixCache?.HitTokens ?? 0,
        Interlocked.Read(ref _promptTokens), Interlocked.Read(ref _generatedTokens), _scheduler.NumPreemptions, Interlocked.Read(ref _steps))
    {
        RopeRecomputes = _scheduler.NumRecomputes,
    };

    /// <summary>The error that stopped the engine loop, or null while it runs (or after a clean shutdown).</summary>
    public Exception? Fault { get; private set; }

    /// <summary>Completes, with <see cref="Fault"/>, when the loop dies of an internal error; never otherwise.</summary>
    public Task<Exception> Faulted => _faulted.Task;

    /// <summary>Sequences accepted and not yet finished (running plus waiting).</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>
    /// Generates one sequence for <paramref name="prompt"/>. The stream ends with an event whose Result is set.
    /// A request that can never fit throws <see cref="RequestRefusedException"/> here, before anything runs;; a
    /// stopped engine throws
    /// <see cref="EngineFailedException"/> (after an internal error) or ObjectDisposedException.
    /// </summary>
    public IAsyncEnumerable<GenerationEvent> GenerateAsync(IReadOnlyList<int> prompt, ResolvedSamplingParams parameters,
        int sequenceIndex = 0, CancellationToken cancellationToken = default)
    {
        if (Fault is { } fault) throw new EngineFailedException("The inference engine stopped after an internal error; the server must be restarted.", fault);
        ObjectDisposedException.ThrowIf(_stopping, this);
        if (prompt.Count == 0) throw new ArgumentException("The prompt has no tokens.");
        for (int i = 0; i < prompt.Count; i++)
            if ((uint)prompt[i] >= (uint)_vocabSize)
                throw new ArgumentOutOfRangeException(nameof(prompt), prompt[i], $"Prompt token {i} is {prompt[i]}, outside the model's {_vocabSize} embedding rows (ids 0 to {_vocabSize - 1}).");
        if (Refusal(prompt.Count, parameters.MaxTokens) is { } refusal)
            throw new RequestRefusedException(refusal, prompt.Count, parameters.MaxTokens, MaxModelLen);
        parameters.CheckVocabulary(_vocabSize);
        Interlocked.Increment(ref _inFlight);
        var request = new Request(prompt.ToArray(), parameters, sequenceIndex, () => Interlocked.Decrement(ref _inFlight));
        _incoming.Enqueue(request);
        // The loop may have stopped between the checks above and the enqueue: it will not drain the queue again.
        if (_stopping)
            request.Complete(Fault is { } f ? new EngineFailedException("The inference engine stopped after an internal error.", f)
                : new OperationCanceledException("The engine shut down before the request started."));
        else _wake.Release();
        return Read(request, cancellationToken);
    }

    private async IAsyncEnumerable<GenerationEvent> Read(Request request, [EnumeratorCancellation] CancellationToken ct)
    {
        try
        {
            await foreach (var e in request.Events.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                // Events already queued when the consumer cancels are not handed out.
                ct.ThrowIfCancellationRequested();
                yield return e;
            }
        }
        finally
        {
            if (!request.Done)
            {
                _aborts.Enqueue(request);
                _wake.Release();
            }
        }
    }

    /// <remarks>
    /// Failures stay with the requests they concern: a request whose set-up fails is failed alone (Admit), a
    /// sequence whose sampling or decoding throws is failed alone (Step), and a forward that throws fails the
    /// step's sequences, after which the scheduler forgets the step and serves everyone else (FailStep). Only
    /// a failure of that recovery itself stops the loop: then <see cref="Fault"/> is set, every request is
    /// failed, new ones are refused, and <see cref="Faulted"/> completes so a server can report and exit.
    /// </remarks>
    private void Loop()
    {
        try
        {
            while (!_stopping)
            {
                Admit();
                DropAborted();
                if (!_scheduler.HasUnfinished)
                {
                    _wake.Wait();
                    continue;
                }
                var plan = _scheduler.Schedule();
                if (plan.IsEmpty)
                {
                    _wake.Wait(10);
                    continue;
                }
                try
                {
                    Step(plan);
                    _failedSteps = 0;
                }
                catch (Exception e) when (!_stopping)
                {
                    FailStep(e);
                    // An engine whose every step fails serves nothing: it stops, so health says so and a
                    // supervisor can restart the process.
                    if (++_failedSteps >= MaxFailedStepsInARow) throw new EngineFailedException($"{MaxFailedStepsInARow} steps in a row failed.", e);
                }
            }
        }
        catch (Exception e)
        {
            // Fault and Faulted first: whoever sees a request fail from here on also sees why the engine stopped.
            Fault = e;
            _faulted.TrySetResult(e);
            _stopping = true;
            FailAll(new EngineFailedException("The inference engine stopped after an internal error; the server must be restarted.", e));
            return;
        }
        FailAll(new OperationCanceledException("The engine shut down before the request finished."));
    }

    private void Admit()
    {
        while (_incoming.TryDequeue(out var r))
        {
            try
            {
                r.State = new GenerationState(r.Parameters, r.Prompt, _decoders(r.Parameters.SkipSpecialTokens), r.SequenceIndex,
                    _model.Config.VocabSize, _scratch);
                var rope = _rope.Initial(r.Prompt.Length, r.Parameters.MaxTokens, r.Parameters.MaxTokensIsContextRoom);
                long id = _scheduler.Submit(r.Prompt, r.Parameters.MaxTokens, rope);
                r.Rope = rope;
                r.SequenceId = id;
                _active[id] = r;
                Interlocked.Add(ref _promptTokens, r.Prompt.Length);
            }
            catch (Exception e)
            {
                r.Complete(e);
            }
        }
    }

    private void DropAborted()
    {
        while (_aborts.TryDequeue(out var r))
        {
            if (r.SequenceId is long id && _active.Remove(id))
                _scheduler.Abort(id);
            r.Complete(null);
        }
    }

    private void Step(StepPlan plan)
    {
        _stepIds.Clear();
        _batch.Clear();
        foreach (var s in plan.Sequences)
        {
            _stepIds.Add(s.SequenceId);
            _batch.Add(s.Tokens, s.FirstPosition, s.BlockTable, s.WantsLogits ? LogitsWanted.Last : LogitsWanted.None, s.Rope);
        }
        BeforeForward?.Invoke(plan);
        var logits = _model.Forward(_batch, _cache);
        Interlocked.Increment(ref _steps);

        _outcomes.Clear();
        int vocab = _model.Config.VocabSize, row = 0;
        foreach (var s in plan.Sequences)
        {
            if (!s.WantsLogits)
            {
                _outcomes.Add(new SequenceOutcome(s.SequenceId, null, false));
                continue;
            }
            var r = _active[s.SequenceId];
            StepResult step;
            try
            {
                step = r.State!.Accept(logits.Slice(row++ * vocab, vocab));
            }
            catch (Exception e)
            {
                // This sequence's sampling, decoding or stop matching failed: it ends alone, the step goes on.
                _outcomes.Add(new SequenceOutcome(s.SequenceId, null, true));
                _active.Remove(s.SequenceId);
                r.Complete(new EngineFailedException($"Sampling failed for sequence {s.SequenceId}.", e));
                continue;
            }
            Interlocked.Increment(ref _generatedTokens);
            var result = step.IsFinished ? r.State.ToResult() : null;
            r.Events.Writer.TryWrite(new GenerationEvent(step.TokenId, step.TextDelta, step.Logprob, result)
            {
                CachedTokens = s.CachedTokens,
                Rope = result is not null && _rope.HasYarn ? new RopeReport(_rope.Mode, r.Rope, r.RecomputedAt) : null,
            });
            _outcomes.Add(new SequenceOutcome(s.SequenceId, step.TokenId, step.IsFinished));
            if (step.IsFinished)
            {
                _active.Remove(s.SequenceId);
                r.Complete(null);
            }
        }
        _scheduler.Update(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_outcomes));
        RecomputeCrossed(plan);
    }

    /// <summary>
    /// A plain sequence whose new token took it past original_max_position_embeddings is recomputed once under YaRN: the
    /// scheduler frees its blocks and it is prefilled again (prompt and generated tokens) before it goes on, so none of its
    /// keys mixes the two tables.
    /// </summary>
    private void RecomputeCrossed(StepPlan plan)
    {
        if (_rope.Limit is null) return;
        foreach (var s in plan.Sequences)
        {
            if (!s.WantsLogits || !_active.TryGetValue(s.SequenceId, out var r) || _scheduler.NumTokens(s.SequenceId) is not int tokens) continue;
            if (!_rope.MustRecompute(r.Rope, tokens)) continue;
            _scheduler.Recompute(s.SequenceId, RopeMode.Yarn);
            r.Rope = RopeMode.Yarn;
            r.RecomputedAt = tokens;
        }
    }

    /// <summary>
    /// A step failed where it cannot be told which sequence caused it (the forward, or the scheduler's books):
    /// its sequences fail, the scheduler forgets the step, and the loop goes on with everyone else.
    /// </summary>
    private void FailStep(Exception e)
    {
        _scheduler.CancelStep();
        var error = new EngineFailedException("The model failed while computing a step that included this request.", e);
        foreach (long id in _stepIds)
        {
            _scheduler.Abort(id);
            if (_active.Remove(id, out var r)) r.Complete(error);
        }
    }

    /// <summary>Ends every request with <paramref name="e"/>; the streams are closed before the scheduler's books are
    /// touched, so even books broken by the failure that got here cannot leave a client waiting.</summary>
    private void FailAll(Exception e)
    {
        foreach (var r in _active.Values) r.Complete(e);
        while (_incoming.TryDequeue(out var r)) r.Complete(e);
        while (_aborts.TryDequeue(out var r)) r.Complete(e);
        try
        {
            foreach (long id in _active.Keys) _scheduler.Abort(id);
        }
        catch (Exception) when (Fault is not null)
        {
            // The engine is stopping for good; its books no longer matter.
        }
        _active.Clear();
    }

    /// <summary>Stops the loop; requests still running end with an OperationCanceledException.</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _wake.Release();
        _loop.Join();
        _wake.Dispose();
    }

    private sealed class Request(int[] prompt, ResolvedSamplingParams parameters, int sequenceIndex, Action onDone)
    {
        private int _completed;

        public int[] Prompt { get; } = prompt;
        public ResolvedSamplingParams Parameters { get; } = parameters;
        public int SequenceIndex { get; } = sequenceIndex;
        public Channel<GenerationEvent> Events { get; } = Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        public GenerationState? State { get; set; }
        public long? SequenceId { get; set; }
        public RopeMode Rope { get; set; }
        /// <summary>Tokens it held when it was recomputed under YaRN; null when it never was.</summary>
        public int? RecomputedAt { get; set; }
        public bool Done => Volatile.Read(ref _completed) != 0;

        /// <summary>Ends the stream (with <paramref name="error"/> when it failed); the first call counts, later ones are no-ops.</summary>
        public void Complete(Exception? error)
        {
            if (Interlocked.Exchange(ref _completed, 1) != 0) return;
            Events.Writer.TryComplete(error);
            onDone();
        }
    }
}
