using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using QwenSharp.Engine;
using QwenSharp.Formats;
using QwenSharp.Generation;

namespace QwenSharp.Server.Backend;

/// <summary>
/// <see cref="IModelBackend"/> over the continuous-batching <see cref="InferenceEngine"/>: request fields become
/// <see cref="SamplingParams"/> resolved against generation_config.json (or vLLM's defaults when
/// <paramref name="generationConfig"/> is null, as `--generation-config vllm`), engine events become token
/// deltas and a finish, engine refusals and parameter errors become 400s naming the parameter.
/// </summary>
public sealed class EngineBackend(InferenceEngine engine, IModelText text, GenerationConfig? generationConfig,
    string modelName, BackendModelInfo info) : IModelBackend, IDisposable
{
    public string ModelName => modelName;
    public int MaxModelLength => engine.MaxModelLen;
    public BackendModelInfo Info => info;

    public string RenderChat(string messagesJson, string? toolsJson, bool addGenerationPrompt,
        IReadOnlyDictionary<string, JsonElement>? extraVariables) =>
        text.RenderChat(messagesJson, toolsJson, addGenerationPrompt, extraVariables);

    public int[] Tokenize(string s) => text.Encode(s);

    public string Detokenize(ReadOnlySpan<int> tokenIds)
    {
        int vocab = engine.Model.Config.VocabSize;
        foreach (int id in tokenIds)
            if (id < 0 || id >= vocab)
                throw new RequestRejectedException($"Token id {id} is outside the vocabulary of {vocab} tokens (ids 0 to {vocab - 1}).", "tokens");
        return text.Decode(tokenIds);
    }

    public ParameterError? Validate(BackendRequest request)
    {
        try
        {
            var parameters = Resolve(request);
            parameters.CheckVocabulary(engine.Model.Config.VocabSize);
            // The KV cache may hold fewer tokens than max_model_len; the engine says so before anything runs.
            if (engine.Refusal(request.PromptTokenIds.Length, parameters.MaxTokens) is { } refusal)
                return new ParameterError("max_tokens", refusal);
            return null;
        }
        catch (SamplingParameterException e)
        {
            return new ParameterError(e.ParamName ?? "", e.Message);
        }
    }

    public async IAsyncEnumerable<BackendEvent> Generate(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        IAsyncEnumerable<GenerationEvent> events;
        try
        {
            events = engine.GenerateAsync(request.PromptTokenIds, Resolve(request), request.SequenceIndex, cancellationToken);
        }
        catch (SamplingParameterException e) { throw new RequestRejectedException(e.Message, e.ParamName); }
        catch (RequestRefusedException e) { throw new RequestRejectedException(e.Message, "max_tokens"); }

        int cached = 0;
        await foreach (var e in events.WithCancellation(cancellationToken))
        {
            cached = Math.Max(cached, e.CachedTokens);
            yield return new TokenDelta(e.TextDelta, e.TokenId, e.Logprob is { } lp ? Logprob(lp) : null);
            if (e.Result is { } r)
            {
                var parameters = JsonNode.Parse(r.Parameters.ToJson())!.AsObject();
                parameters["seed"] = r.Seed; // the seed actually used, drawn at random when none was given
                JsonNode? stopReason = r.StopString is { } s ? JsonValue.Create(s) : r.StopTokenId is { } id ? JsonValue.Create(id) : null;
                yield return new GenerationFinished(r.FinishReason.ToWireName(), r.PromptTokens, r.CompletionTokens, cached, parameters, stopReason);
            }
        }
    }

    public BackendStats GetStats()
    {
        var s = engine.Stats;
        return new BackendStats(s.Running, s.Waiting, s.KvUsage, s.PrefixQueriedTokens, s.PrefixHitTokens);
    }

    public void Dispose() => engine.Dispose();

    private ResolvedSamplingParams Resolve(BackendRequest r) => new SamplingParams
    {
        Temperature = r.Temperature,
        TopK = r.TopK,
        TopP = r.TopP,
        MinP = r.MinP,
        RepetitionPenalty = r.RepetitionPenalty,
        PresencePenalty = r.PresencePenalty,
        FrequencyPenalty = r.FrequencyPenalty,
        LogitBias = r.LogitBias,
        Seed = r.Seed,
        MaxTokens = r.MaxTokens,
        MinTokens = r.MinTokens,
        Stop = r.Stop,
        StopTokenIds = r.StopTokenIds,
        IgnoreEos = r.IgnoreEos,
        Logprobs = r.Logprobs,
        N = r.N,
        SkipSpecialTokens = r.SkipSpecialTokens,
        IncludeStopStrInOutput = r.IncludeStopStrInOutput,
    }.Resolve(generationConfig, null, text.EosTokenIds);

    private Backend.TokenLogprob Logprob(Generation.TokenLogprob lp)
    {
        byte[] bytes = text.TokenBytes(lp.TokenId);
        var top = lp.TopLogprobs.Select(t =>
        {
            byte[] b = text.TokenBytes(t.TokenId);
            return new Backend.TopLogprob(Encoding.UTF8.GetString(b), t.TokenId, t.Logprob, b);
        }).ToList();
        return new Backend.TokenLogprob(Encoding.UTF8.GetString(bytes), lp.Logprob, bytes, top);
    }
}
