using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using QwenSharp.Server.Backend;

namespace QwenSharp.Server.Tests;

/// <summary>
/// A deterministic stand-in for the model, so the HTTP layer is tested on its own. Tokens are UTF-16 code units
/// (vocabulary 65 536). The "model" echoes its prompt: token k of sequence i of n is prompt[(seed + i + k) mod length]; it
/// emits EOS after one full pass (unless ignore_eos or min_tokens say otherwise) and honours max_tokens, stop
/// strings (held back, then cut), stop_token_ids and logprobs (token k has logprob -(k mod 4)/4 - 0.1, and
/// its alternatives are the following code units, each 1 lower). The template writes
/// "&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n" per message, like Qwen2's.
/// </summary>
public sealed class FakeBackend(int maxModelLength = 256, TimeSpan? tokenDelay = null) : IModelBackend
{
    public const int VocabSize = 65536;
    /// <summary>A message content that makes <see cref="RenderChat"/> throw an unexpected exception.</summary>
    public const string BugTrigger = "TRIGGER_A_SERVER_BUG";
    private int _running;
    private long _prefixQueries, _prefixHits;
    private int[] _lastPrompt = [];
    private readonly Lock _lock = new();

    public string ModelName => "fake-qwen";
    public int MaxModelLength => maxModelLength;
    public BackendModelInfo Info { get; } = new("qwen2", "gguf", "0.5B", "Q8_0", 1234, "{{ fake template }}");
    public TimeSpan TokenDelay { get; set; } = tokenDelay ?? TimeSpan.Zero;
    /// <summary>Sequences started and not yet ended (the server must end them when clients leave).</summary>
    public int Running => Volatile.Read(ref _running);

    public string RenderChat(string messagesJson, string? toolsJson, bool addGenerationPrompt,
        IReadOnlyDictionary<string, JsonElement>? extraVariables)
    {
        var sb = new StringBuilder();
        if (messagesJson.Contains(BugTrigger, StringComparison.Ordinal))
            throw new IOException("Could not open /home/secret/model/template.jinja"); // stands in for a bug of ours
        foreach (var m in JsonNode.Parse(messagesJson)!.AsArray())
            sb.Append("<|im_start|>").Append((string)m!["role"]!).Append('\n').Append((string?)m["content"] ?? "").Append("<|im_end|>\n");
        if (addGenerationPrompt) sb.Append("<|im_start|>assistant\n");
        return sb.ToString();
    }

    public int[] Tokenize(string text) => text.Select(c => (int)c).ToArray();

    public string Detokenize(ReadOnlySpan<int> tokenIds)
    {
        var sb = new StringBuilder();
        foreach (int id in tokenIds)
        {
            if (id is < 0 or >= VocabSize) throw new RequestRejectedException($"Token id {id} is outside the vocabulary (0..{VocabSize - 1}).", "tokens");
            sb.Append((char)id);
        }
        return sb.ToString();
    }

    public ParameterError? Validate(BackendRequest request)
    {
        if (request.LogitBias?.Keys.FirstOrDefault(k => k >= VocabSize) is { } bad && bad >= VocabSize)
            return new ParameterError("logit_bias", $"Token id {bad} in logit_bias is outside the vocabulary (0..{VocabSize - 1}).");
        if (request.StopTokenIds.FirstOrDefault(k => k is < 0 or >= VocabSize) is var s && s is < 0 or >= VocabSize)
            return new ParameterError("stop_token_ids", $"Token id {s} in stop_token_ids is outside the vocabulary (0..{VocabSize - 1}).");
        return null;
    }

    /// <summary>The text the fake produces for a prompt, computed by the rule above (what a test expects).</summary>
    public static string Reply(string prompt, int maxTokens, long seed = 0)
    {
        var sb = new StringBuilder();
        for (int k = 0; k < Math.Min(maxTokens, prompt.Length); k++) sb.Append(prompt[(int)((seed + k) % prompt.Length)]);
        return sb.ToString();
    }

    public async IAsyncEnumerable<BackendEvent> Generate(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        int[] prompt = request.PromptTokenIds;
        int cached = CachedPrefix(prompt);
        Interlocked.Increment(ref _running);
        try
        {
            long seed = (request.Seed ?? 0) + request.SequenceIndex;
            int eosAt = request.IgnoreEos ? int.MaxValue : Math.Max(prompt.Length, request.MinTokens ?? 0);
            var generated = new StringBuilder();
            int emitted = 0; // characters of `generated` already sent
            int k = 0;
            string reason = "length";
            JsonNode? stopReason = null;
            while (k < request.MaxTokens)
            {
                if (k == eosAt) { reason = "stop"; break; }
                if (TokenDelay > TimeSpan.Zero) await Task.Delay(TokenDelay, cancellationToken);
                else await Task.Yield();
                cancellationToken.ThrowIfCancellationRequested();
                int token = prompt[(int)((seed + k) % prompt.Length)];
                k++;
                if (request.StopTokenIds.Contains(token)) { reason = "stop"; stopReason = token; yield return new TokenDelta("", token, Logprob(request, token, k - 1)); break; }
                generated.Append((char)token);
                string text = generated.ToString();
                int cut = -1;
                string? matched = null;
                foreach (var stop in request.Stop)
                {
                    int at = text.IndexOf(stop, StringComparison.Ordinal);
                    if (at >= 0 && (cut < 0 || at < cut)) { cut = at; matched = stop; }
                }
                if (matched != null)
                {
                    int end = request.IncludeStopStrInOutput ? cut + matched.Length : cut;
                    yield return new TokenDelta(end > emitted ? text[emitted..end] : "", token, Logprob(request, token, k - 1));
                    reason = "stop";
                    stopReason = matched;
                    break;
                }
                // Hold back a tail that could still become a stop string, as the real stop matcher must.
                int safe = text.Length;
                bool last = k >= request.MaxTokens || k >= eosAt; // nothing can follow: flush what was held back
                foreach (var stop in last ? Array.Empty<string>() : request.Stop)
                    for (int len = Math.Min(stop.Length - 1, text.Length); len > 0; len--)
                        if (text.EndsWith(stop[..len], StringComparison.Ordinal)) { safe = Math.Min(safe, text.Length - len); break; }
                string delta = safe > emitted ? text[emitted..safe] : "";
                emitted = Math.Max(emitted, safe);
                yield return new TokenDelta(delta, token, Logprob(request, token, k - 1));
            }
            var resolved = new JsonObject
            {
                ["temperature"] = request.Temperature ?? 0.7,
                ["top_p"] = request.TopP ?? 0.8,
                ["top_k"] = request.TopK ?? 20,
                ["repetition_penalty"] = request.RepetitionPenalty ?? 1.05,
                ["max_tokens"] = request.MaxTokens,
                ["seed"] = request.Seed,
                ["n"] = request.N,
            };
            yield return new GenerationFinished(reason, prompt.Length, k, cached, resolved, stopReason);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    private static TokenLogprob? Logprob(BackendRequest request, int token, int k)
    {
        if (request.Logprobs is not { } top) return null;
        double lp = -(k % 4) / 4.0 - 0.1;
        var alternatives = Enumerable.Range(0, top).Select(j =>
        {
            int id = (token + j) % VocabSize;
            return new TopLogprob(((char)id).ToString(), id, lp - j, Encoding.UTF8.GetBytes(((char)id).ToString()));
        }).ToList();
        string s = ((char)token).ToString();
        return new TokenLogprob(s, lp, Encoding.UTF8.GetBytes(s), alternatives);
    }

    /// <summary>Prefix-cache stand-in: the tokens shared with the previous prompt, in whole blocks of 16.</summary>
    private int CachedPrefix(int[] prompt)
    {
        lock (_lock)
        {
            int common = 0;
            while (common < prompt.Length && common < _lastPrompt.Length && prompt[common] == _lastPrompt[common]) common++;
            int cached = Math.Min(common, prompt.Length - 1) / 16 * 16;
            _lastPrompt = prompt;
            _prefixQueries += prompt.Length;
            _prefixHits += cached;
            return cached;
        }
    }

    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Set by <see cref="Die"/>: the backend's engine "stopped after an internal error".</summary>
    public string? Failure { get; set; }
    public Task Stopped => _stopped.Task;

    public void Die(string failure)
    {
        Failure = failure;
        _stopped.TrySetResult();
    }

    public BackendStats GetStats()
    {
        lock (_lock) return new BackendStats(Running, 0, Running / 16.0, _prefixQueries, _prefixHits);
    }
}
