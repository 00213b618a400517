using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using QwenSharp.Generation;
using QwenSharp.Model;

namespace QwenSharp.Engine;

/// <summary>
/// Many requests → batched forward steps. One loop thread runs the three verbs of every step: the
/// <see cref="Scheduler"/> picks running sequences and prompt chunks within the token budget and free KV
/// blocks; one <see cref="Qwen2Model.Forward"/> computes all of them (weights read once per step); each
/// sequence that reached its last token samples through its <see cref="GenerationState"/>, and the outcome goes
/// back to the scheduler. Requests join at the next step and leave the step they finish; a consumer that stops
/// listening or cancels frees its blocks within one step.
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
    private volatile bool _stopping;
    private long _promptTokens, _generatedTokens, _steps;

    /// <param name="decoders">makes a fresh incremental decoder for one sequence; the flag is skip_special_tokens</param>
    public InferenceEngine(Qwen2Model model, Func<bool, IIncrementalDecoder> decoders, EngineOptions? options = null)
    {
        options ??= new EngineOptions();
        _model = model;
        _decoders = decoders;
        var c = model.Config;
        long bytesPerToken = 2L * c.NumHiddenLayers * c.NumKeyValueHeads * c.HeadDim * sizeof(float);
        int maxModelLen = options.MaxModelLen ?? c.MaxPositionEmbeddings;
        long tokens = Math.Max(options.KvCacheBytes / bytesPerToken, Math.Min(maxModelLen, 4096));
        int numBlocks = (int)Math.Min(tokens / options.BlockSize, Array.MaxLength / ((long)options.BlockSize * c.NumKeyValueHeads * c.HeadDim));
        MaxModelLen = options.MaxModelLen ?? Math.Min(maxModelLen, numBlocks * options.BlockSize);
        if (MaxModelLen > numBlocks * options.BlockSize)
            throw new ArgumentException($"max_model_len {MaxModelLen} needs {MaxModelLen * bytesPerToken / (1 << 20)} MiB of KV cache; the cache holds {numBlocks * options.BlockSize} tokens ({options.KvCacheBytes / (1 << 20)} MiB).");
        _cache = new KvCache(c.NumHiddenLayers, c.NumKeyValueHeads, c.HeadDim, numBlocks, options.BlockSize);
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
    public int MaxModelLen { get; }
    /// <summary>Tokens computed in one step at most (decode tokens plus prompt chunks).</summary>
    public int MaxNumBatchedTokens { get; }
    public long KvCacheBytes => _cache.Bytes;

    /// <summary>Why a request of this size can never run (naming both counts and the limit), or null.</summary>
    public string? Refusal(int promptTokens, int maxTokens) => _scheduler.Refusal(promptTokens, maxTokens);

    public EngineStats Stats => new(_scheduler.NumRunning, _scheduler.NumWaiting, _scheduler.Blocks.Usage,
        _scheduler.PrefixCache?.QueriedTokens ?? 0, _scheduler.PrefixCache?.HitTokens ?? 0,
        Interlocked.Read(ref _promptTokens), Interlocked.Read(ref _generatedTokens), _scheduler.NumPreemptions, Interlocked.Read(ref _steps));

    /// <summary>
    /// Generates one sequence for <paramref name="prompt"/>. The stream ends with an event whose Result is set.
    /// A request that can never fit throws <see cref="RequestRefusedException"/> here, before anything runs.
    /// </summary>
    public IAsyncEnumerable<GenerationEvent> GenerateAsync(IReadOnlyList<int> prompt, ResolvedSamplingParams parameters,
        int sequenceIndex = 0, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        if (prompt.Count == 0) throw new ArgumentException("The prompt has no tokens.");
        if (Refusal(prompt.Count, parameters.MaxTokens) is { } refusal)
            throw new RequestRefusedException(refusal, prompt.Count, parameters.MaxTokens, MaxModelLen);
        parameters.CheckVocabulary(_model.Config.VocabSize);
        var request = new Request(prompt.ToArray(), parameters, sequenceIndex);
        _incoming.Enqueue(request);
        _wake.Release();
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

    private void Loop()
    {
        while (!_stopping)
        {
            try
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
                Step(plan);
            }
            catch (Exception e) when (!_stopping)
            {
                FailAll(e);
            }
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
                long id = _scheduler.Submit(r.Prompt, r.Parameters.MaxTokens);
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
        _batch.Clear();
        foreach (var s in plan.Sequences)
            _batch.Add(s.Tokens, s.FirstPosition, s.BlockTable, s.WantsLogits ? LogitsWanted.Last : LogitsWanted.None);
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
            var step = r.State!.Accept(logits.Slice(row++ * vocab, vocab));
            Interlocked.Increment(ref _generatedTokens);
            var result = step.IsFinished ? r.State.ToResult() : null;
            r.Events.Writer.TryWrite(new GenerationEvent(step.TokenId, step.TextDelta, step.Logprob, result)
            {
                CachedTokens = s.CachedTokens,
            });
            _outcomes.Add(new SequenceOutcome(s.SequenceId, step.TokenId, step.IsFinished));
            if (step.IsFinished)
            {
                _active.Remove(s.SequenceId);
                r.Complete(null);
            }
        }
        _scheduler.Update(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_outcomes));
    }

    private void FailAll(Exception e)
    {
        foreach (var (id, r) in _active)
        {
            _scheduler.Abort(id);
            r.Complete(e);
        }
        _active.Clear();
        while (_incoming.TryDequeue(out var r)) r.Complete(e);
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

    private sealed class Request(int[] prompt, ResolvedSamplingParams parameters, int sequenceIndex)
    {
        public int[] Prompt { get; } = prompt;
        public ResolvedSamplingParams Parameters { get; } = parameters;
        public int SequenceIndex { get; } = sequenceIndex;
        public Channel<GenerationEvent> Events { get; } = Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        public GenerationState? State { get; set; }
        public long? SequenceId { get; set; }
        public volatile bool Done;

        public void Complete(Exception? error)
        {
            Done = true;
            Events.Writer.TryComplete(error);
        }
    }
}
