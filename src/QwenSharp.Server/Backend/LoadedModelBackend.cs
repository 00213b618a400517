using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using QwenSharp.Engine;
using QwenSharp.Generation;
using QwenSharp.Text.Jinja;

namespace QwenSharp.Server.Backend;

/// <summary>The server's view of a <see cref="LoadedModel"/>: template, tokenizer, engine and its gauges.</summary>
public sealed class LoadedModelBackend(LoadedModel model, string modelName) : IModelBackend, IDisposable
{
    public LoadedModel Model => model;
    public string ModelName => modelName;
    public int MaxModelLength => model.MaxModelLen;

    public BackendModelInfo Info { get; } = Describe(model);

    private static BackendModelInfo Describe(LoadedModel model)
    {
        string size = model.Model.Config.SizeLabel;
        bool gguf = QwenSharp.Model.ModelFiles.IsGguf(model.Path);
        long bytes = QwenSharp.Model.ModelFiles.WeightBytes(model.Path);
        return new BackendModelInfo("qwen2", gguf ? "gguf" : "safetensors", size,
            model.Model.Weights.MlpType.ToString(), bytes, model.Template?.Source ?? "");
    }

    public string RenderChat(string messagesJson, string? toolsJson, bool addGenerationPrompt, IReadOnlyDictionary<string, JsonElement>? extraVariables)
    {
        var messages = JsonNode.Parse(messagesJson) as JsonArray ?? throw new RequestRejectedException("messages must be an array.", "messages");
        var tools = toolsJson == null ? null : JsonNode.Parse(toolsJson) as JsonArray;
        var variables = extraVariables?.ToDictionary(kv => kv.Key, kv => JsonNode.Parse(kv.Value.GetRawText()));
        if (model.Template == null)
            throw new RequestRejectedException($"This model has no chat template; start the server with --chat-template or send a raw prompt.", "messages");
        try
        {
            return model.RenderChat(messages, tools, addGenerationPrompt, variables);
        }
        catch (TemplateException e) when (e.Kind == TemplateErrorKind.Input)
        {
            // Unusable input (a chat_template_kwargs name that clashes with messages, tools…; JSON nested too deep).
            bool fromKwargs = e.Variable == null || (variables?.ContainsKey(e.Variable) ?? false) || e.Variable is not ("messages" or "tools");
            throw new RequestRejectedException(e.Message, fromKwargs ? "chat_template_kwargs" : e.Variable);
        }
        catch (TemplateException e)
        {
            throw new RequestRejectedException($"The chat template failed: {e.Message}", "messages");
        }
    }

    public int[] Tokenize(string text) => model.Tokenizer.Encode(text);

    public string Detokenize(ReadOnlySpan<int> tokenIds)
    {
        foreach (int id in tokenIds)
            if (!model.Tokenizer.IsKnown(id))
                throw new RequestRejectedException($"Token id {id} is not in the vocabulary of {model.Tokenizer.VocabSize}.", "tokens");
        return model.Tokenizer.Decode(tokenIds.ToArray());
    }

    public ParameterError? Validate(BackendRequest request)
    {
        try
        {
            // Ids past the tokenizer's size are padding rows of the embedding, not tokens (Qwen2: 151,646 of 151,936).
            int size = Math.Min(model.Tokenizer.VocabSize, model.Model.Config.VocabSize);
            bool IsToken(int id) => (uint)id < (uint)size && model.Tokenizer.IsKnown(id);
            foreach (int id in request.PromptTokenIds)
                if (!IsToken(id))
                    return new ParameterError(request.PromptParam, $"'{request.PromptParam}' holds token id {id}, which is not a token of this model (ids 0 to {size - 1}).");
            Resolve(request).CheckVocabulary(size, IsToken);
            // The KV cache may hold less than max_model_len: refuse up front rather than mid-stream.
            return model.Engine.Refusal(request.PromptTokenIds.Length, request.MaxTokens) is { } refusal
                ? new ParameterError("max_tokens", refusal)
                : null;
        }
        catch (SamplingParameterException e)
        {
            return new ParameterError(e.ParamName ?? "", e.Message);
        }
        catch (QwenSharp.Grammar.GrammarException e)
        {
            return new ParameterError(request.Output?.Param ?? "", $"'{request.Output?.Param}' cannot be used: {e.Message}");
        }
        catch (ArgumentException e)
        {
            return new ParameterError(e.ParamName ?? "", e.Message);
        }
    }

    private ResolvedSamplingParams Resolve(BackendRequest r) =>
        model.Constrain(Unconstrained(r), r.Output) with { MaxTokensIsContextRoom = r.MaxTokensIsContextRoom };

    private ResolvedSamplingParams Unconstrained(BackendRequest r) => model.Resolve(new SamplingParams
    {
        Temperature = r.Temperature,
        TopP = r.TopP,
        TopK = r.TopK,
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
    }, r.PromptTokenIds.Length);

    public async IAsyncEnumerable<BackendEvent> Generate(BackendRequest request,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ResolvedSamplingParams parameters;
        IAsyncEnumerable<GenerationEvent> events;
        try
        {
            parameters = Resolve(request);
            events = model.GenerateAsync(request.PromptTokenIds, parameters, request.SequenceIndex, cancellationToken);
        }
        catch (SamplingParameterException e)
        {
            throw new RequestRejectedException(e.Message, e.ParamName);
        }
        catch (QwenSharp.Grammar.GrammarException e)
        {
            throw new RequestRejectedException($"'{request.Output?.Param}' cannot be used: {e.Message}", request.Output?.Param);
        }
        catch (RequestRefusedException e)
        {
            throw new RequestRejectedException(e.Message, "max_tokens");
        }
        await foreach (var e in events.ConfigureAwait(false))
        {
            yield return new TokenDelta(e.TextDelta, e.TokenId, e.Logprob is { } lp ? Logprob(lp) : null);
            if (e.Result is { } result)
            {
                JsonNode? stopReason = result.StopString != null ? JsonValue.Create(result.StopString)
                    : result.StopTokenId is int id && !parameters.EosTokenIds.Contains(id) ? JsonValue.Create(id) : null;
                var resolved = (JsonObject)JsonNode.Parse(result.Parameters.ToJson())!;
                if (e.Rope is { } rope) resolved["rope_scaling"] = rope.ToJson();
                yield return new GenerationFinished(result.FinishReason.ToWireName(), result.PromptTokens, result.CompletionTokens,
                    e.CachedTokens, resolved, stopReason);
            }
        }
    }

    private TokenLogprob Logprob(QwenSharp.Generation.TokenLogprob lp)
    {
        var top = lp.TopLogprobs.Select(t => new TopLogprob(Text(t.TokenId), t.TokenId, t.Logprob, Bytes(t.TokenId))).ToList();
        return new TokenLogprob(Text(lp.TokenId), lp.Logprob, Bytes(lp.TokenId), top);
    }

    private byte[] Bytes(int id) => model.Tokenizer.TokenBytes(id).ToArray();

    private string Text(int id) => Encoding.UTF8.GetString(model.Tokenizer.TokenBytes(id));

    public string? Failure => model.Engine.Fault is { } e ? $"The inference engine stopped after an internal error ({e.GetType().Name})." : null;

    public Task Stopped => model.Engine.Faulted;

    public BackendStats GetStats()
    {
        var s = model.Engine.Stats;
        return new BackendStats(s.Running, s.Waiting, s.KvUsage, s.PrefixQueriedTokens, s.PrefixHitTokens);
    }

    public void Dispose() => model.Dispose();
}
