using System.Security.Cryptography;
using System.Text;
using QwenSharp.Grammar;

namespace QwenSharp.Generation;

/// <summary>
/// One sequence being generated, from logits to text: the processor chain, the seeded generator, the token
/// history, stop handling and the streamed text. The engine calls <see cref="Accept"/> with the model's logits
/// for this sequence's last position until a step reports a finish reason, then reads <see cref="ToResult"/>.
/// Not thread-safe: one sequence is sampled by one thread at a time.
/// </summary>
public sealed class GenerationState
{
    private readonly SamplingPipeline _pipeline;
    private readonly Xoshiro256StarStar _random;
    private readonly TokenHistory _history;
    private readonly IIncrementalDecoder _decoder;
    private readonly StopStringMatcher _stopStrings;
    private readonly SamplingScratch _scratch;
    private readonly HashSet<int> _eos;
    private readonly HashSet<int> _stopTokenIds;
    private readonly StringBuilder _text = new();
    private readonly List<TokenLogprob>? _logprobs;
    private readonly GrammarMatcher? _grammar;

    /// <param name="parameters">Resolved sampling parameters.</param>
    /// <param name="promptTokenIds">The prompt, which the repetition penalty counts as HF and vLLM do.</param>
    /// <param name="decoder">Token ids to whole-character text for this sequence (skip_special_tokens is its concern).</param>
    /// <param name="sequenceIndex">Which of the request's n sequences this is: with a seed, sequence i draws from its own
    /// stream derived from (seed, i), so n sequences differ and each is reproducible.</param>
    /// <param name="vocabularySize">When given, token ids in the parameters are checked against it now rather than ignored later.</param>
    /// <param name="scratch">Buffers to share with other sequences sampled on the same thread; a private one when null.</param>
    public GenerationState(ResolvedSamplingParams parameters, ReadOnlySpan<int> promptTokenIds, IIncrementalDecoder decoder,
        int sequenceIndex = 0, int? vocabularySize = null, SamplingScratch? scratch = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sequenceIndex);
        if (vocabularySize is int v) parameters.CheckVocabulary(v);
        Parameters = parameters;
        _scratch = scratch ?? new SamplingScratch();
        _pipeline = new SamplingPipeline(parameters, _scratch);
        Seed = parameters.Seed ?? BitConverter.ToInt64(RandomNumberGenerator.GetBytes(8));
        _random = new Xoshiro256StarStar(unchecked((ulong)Seed + (ulong)sequenceIndex * 0x9E3779B97F4A7C15UL));
        _history = new TokenHistory(promptTokenIds);
        _decoder = decoder;
        _stopStrings = new StopStringMatcher(parameters.Stop, parameters.IncludeStopStrInOutput);
        _eos = parameters.IgnoreEos ? [] : [.. parameters.EosTokenIds];
        _stopTokenIds = [.. parameters.StopTokenIds];
        _logprobs = parameters.Logprobs is null ? null : [];
        _grammar = parameters.Grammar is { } g ? new GrammarMatcher(g) : null;
    }

    public ResolvedSamplingParams Parameters { get; }
    /// <summary>The seed in use: the requested one, or one drawn at random when the request gave none.</summary>
    public long Seed { get; }
    public TokenHistory History => _history;
    public int PromptTokens => _history.PromptLength;
    public int CompletionTokens => _history.OutputLength;
    /// <summary>All text emitted so far (the concatenation of every step's delta).</summary>
    public string Text => _text.ToString();
    public FinishReason? FinishReason { get; private set; }
    public bool IsFinished => FinishReason is not null;
    public string? StopString => _stopStrings.Matched;
    public int? StopTokenId { get; private set; }

    /// <summary>
    /// Samples the next token from <paramref name="logits"/> (the model's output for this sequence's last
    /// position, vocabulary-sized; not modified), records it, and returns it with the text that is now safe to show.
    /// Ends the sequence on an eos id (unless ignore_eos), a stop_token_ids id, a stop string, or max_tokens;
    /// a stop takes precedence over length when both happen on the same token.
    /// </summary>
    public StepResult Accept(ReadOnlySpan<float> logits)
    {
        if (IsFinished) throw new InvalidOperationException($"The sequence already finished ({FinishReason!.Value.ToWireName()}); no more tokens can be accepted.");
        if (logits.IsEmpty) throw new ArgumentException("The logits are empty; expected one value per vocabulary entry.", nameof(logits));

        _scratch.EnsureCapacity(logits.Length);
        Span<float> work = _scratch.Logits.AsSpan(0, logits.Length);
        logits.CopyTo(work);
        // The grammar's mask comes first: -inf stays -inf through every later stage, so no stage can bring back a
        // token the grammar forbids, and the mask is never empty (end ids are allowed where the text is complete).
        _grammar?.ApplyMask(work);
        int token = _pipeline.Choose(work, _history, _random);
        if (_grammar != null && !_grammar.AcceptToken(token))
            throw new InvalidOperationException($"Token {token} was chosen although the grammar does not allow it.");
        TokenLogprob? logprob = Parameters.Logprobs is int top ? LogprobCalculator.Compute(logits, token, top) : null;
        _logprobs?.Add(logprob!);

        _history.Append(token);
        int produced = _history.OutputLength;
        // vLLM: stop ids end the sequence once min_tokens are out (the min_tokens stage keeps them from being
        // chosen before); stop strings are looked for only after more than min_tokens tokens.
        bool detectStrings = produced > Parameters.MinTokens;
        string delta;
        if (produced >= Parameters.MinTokens && (_eos.Contains(token) || _stopTokenIds.Contains(token)))
        {
            // vLLM leaves the stopping token out of the text unless include_stop_str_in_output.
            string text = (Parameters.IncludeStopStrInOutput ? _decoder.Push(token) : "") + _decoder.Flush();
            delta = _stopStrings.Push(text, detectStrings);
            if (_stopStrings.Matched is null) delta += _stopStrings.Flush();
            StopTokenId = token;
            FinishReason = Generation.FinishReason.Stop;
        }
        else
        {
            delta = _stopStrings.Push(_decoder.Push(token), detectStrings);
            if (_stopStrings.Matched is not null) FinishReason = Generation.FinishReason.Stop;
            // A grammar that is complete with nothing allowed after it ends the sequence now, as the end token it
            // would force next; this saves the step that token would take.
            else if (_grammar is { MustEnd: true }) delta += FinishText(Generation.FinishReason.Stop, detectStrings);
            else if (produced >= Parameters.MaxTokens) delta += FinishText(Generation.FinishReason.Length, detectStrings);
        }

        _text.Append(delta);
        return new StepResult(token, logprob, delta, FinishReason);
    }

    /// <summary>
    /// Ends the sequence from outside (the context is full: <see cref="FinishReason.Length"/>; the caller
    /// cancelled: <see cref="FinishReason.Abort"/>) and returns the last text: what the decoder and the stop
    /// matcher still held. A stop string completed by that text still ends it with "stop". Ending twice returns "".
    /// </summary>
    public string Finish(FinishReason reason)
    {
        if (IsFinished) return "";
        string delta = FinishText(reason, _history.OutputLength > Parameters.MinTokens);
        _text.Append(delta);
        return delta;
    }

    private string FinishText(FinishReason reason, bool detectStrings)
    {
        string delta = _stopStrings.Push(_decoder.Flush(), detectStrings);
        if (_stopStrings.Matched is not null)
        {
            FinishReason = Generation.FinishReason.Stop;
            return delta;
        }
        FinishReason = reason;
        return delta + _stopStrings.Flush();
    }

    /// <summary>The finished sequence; throws if it has not finished.</summary>
    public GenerationResult ToResult()
    {
        if (FinishReason is not FinishReason reason) throw new InvalidOperationException("The sequence has not finished yet.");
        return new GenerationResult
        {
            Text = Text,
            TokenIds = _history.Output.ToArray(),
            FinishReason = reason,
            StopString = _stopStrings.Matched,
            StopTokenId = StopTokenId,
            PromptTokens = PromptTokens,
            CompletionTokens = CompletionTokens,
            Seed = Seed,
            Parameters = Parameters,
            Logprobs = _logprobs,
        };
    }
}
