using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using QwenSharp.Engine;
using QwenSharp.Generation;

namespace QwenSharp;

/// <summary>
/// A local Qwen2 model as a Microsoft.Extensions.AI <see cref="IChatClient"/>: messages go through the model's
/// chat template, <see cref="ChatOptions"/> become sampling parameters (<see cref="ChatOptionsSampling"/>; unset
/// values come from generation_config.json), and responses report token usage and why they finished.
/// Many requests may run at once; the engine batches them.
/// </summary>
public sealed class QwenChatClient : IChatClient
{
    private readonly LoadedModel _model;
    private readonly bool _ownsModel;
    private readonly ChatClientMetadata _metadata;

    /// <summary>A client over a model the caller keeps (and disposes).</summary>
    public QwenChatClient(LoadedModel model, string? modelId = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        ModelId = modelId ?? NameOf(model.Path);
        _metadata = new ChatClientMetadata("qwensharp", null, ModelId);
    }

    /// <summary>Loads the model folder or GGUF file at <paramref name="modelPath"/>; disposing the client unloads it.</summary>
    public QwenChatClient(string modelPath, EngineOptions? options = null, string? modelId = null)
        : this(LoadedModel.Load(modelPath, options), modelId) => _ownsModel = true;

    public LoadedModel Model => _model;

    /// <summary>The id reported in responses: the model folder's or file's name unless one was given.</summary>
    public string ModelId { get; }

    /// <summary>
    /// The prompt ids a conversation becomes: the chat template's rendering with the assistant opener,
    /// tokenized with special tokens recognised (as apply_chat_template(tokenize=True)).
    /// </summary>
    public int[] PromptTokens(IEnumerable<ChatMessage> messages) =>
        _model.Tokenizer.Encode(_model.RenderChat(ToTemplateMessages(messages)));

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var (prompt, parameters) = Prepare(messages, options);
        string responseId = NewId();
        var createdAt = DateTimeOffset.UtcNow;
        GenerationResult? result = null;
        int cached = 0;
        await foreach (var e in _model.GenerateAsync(prompt, parameters, 0, cancellationToken).ConfigureAwait(false))
        {
            cancellationToken.ThrowIfCancellationRequested();
            result = e.Result ?? result;
            cached = Math.Max(cached, e.CachedTokens);
        }
        if (result is null) throw new InvalidOperationException("The engine ended the request without a result.");
        var message = new ChatMessage(ChatRole.Assistant, result.Text) { MessageId = responseId };
        return new ChatResponse(message)
        {
            ResponseId = responseId,
            ModelId = ModelId,
            CreatedAt = createdAt,
            FinishReason = ToChatFinishReason(result.FinishReason),
            Usage = Usage(result, cached),
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (prompt, parameters) = Prepare(messages, options);
        string responseId = NewId();
        var createdAt = DateTimeOffset.UtcNow;
        await foreach (var e in _model.GenerateAsync(prompt, parameters, 0, cancellationToken).ConfigureAwait(false))
        {
            // The engine's channel hands out events already queued without looking at the token again;
            // checking here stops the stream at the next event after cancellation.
            cancellationToken.ThrowIfCancellationRequested();
            var update = new ChatResponseUpdate(ChatRole.Assistant, e.TextDelta.Length > 0 ? e.TextDelta : null)
            {
                ResponseId = responseId,
                MessageId = responseId,
                ModelId = ModelId,
                CreatedAt = createdAt,
            };
            if (e.Result is { } result)
            {
                // The last update carries what OpenAI's last chunk carries: why it finished, and the usage.
                update.FinishReason = ToChatFinishReason(result.FinishReason);
                update.Contents.Add(new UsageContent(Usage(result, e.CachedTokens)));
            }
            else if (e.TextDelta.Length == 0)
            {
                // A token whose text is held back (half a character, the start of a possible stop string).
                continue;
            }
            yield return update;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType == typeof(LoadedModel)) return _model;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    public void Dispose()
    {
        if (_ownsModel) _model.Dispose();
    }

    private (int[] Prompt, ResolvedSamplingParams Parameters) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        // The template could show tools to the model, but nothing here parses tool calls back out of the reply.
        if (options?.Tools is { Count: > 0 })
            throw new NotSupportedException("QwenChatClient does not support tools (function calling); send the request without ChatOptions.Tools.");
        var sampling = options.ToSamplingParams();
        // One choice per request: IChatClient has no n.
        if (sampling.N is > 1) throw new ArgumentException($"n must be 1 for a chat client, got {sampling.N}.");
        // Instructions are a system message ahead of the conversation, as the OpenAI adapter sends them.
        if (options?.Instructions is { Length: > 0 } instructions) messages = [new ChatMessage(ChatRole.System, instructions), .. messages];
        int[] prompt = PromptTokens(messages);
        // A prompt too long for the context is refused by the engine with both counts and the limit.
        return (prompt, _model.Constrain(_model.Resolve(sampling, prompt.Length), ResponseFormat(options?.ResponseFormat)));
    }

    /// <summary>ResponseFormat as a constraint: JSON with a schema (what GetResponseAsync&lt;T&gt; sends) is enforced by the
    /// schema's grammar, JSON without one by any JSON object's; text is free. An unsupported schema keyword throws
    /// <see cref="Grammar.UnsupportedSchemaException"/> naming it.</summary>
    private static Grammar.StructuredOutput? ResponseFormat(ChatResponseFormat? format) => format switch
    {
        ChatResponseFormatJson { Schema: { } schema } => Grammar.StructuredOutput.JsonSchema(JsonNode.Parse(schema.GetRawText())!, "ResponseFormat"),
        ChatResponseFormatJson => Grammar.StructuredOutput.JsonObject("ResponseFormat"),
        _ => null,
    };

    /// <summary>
    /// ChatMessages as the template's messages: role and text (the text contents joined); an assistant's
    /// FunctionCallContent as OpenAI's tool_calls (arguments as an object, as vLLM hands them to Hugging Face
    /// templates); each FunctionResultContent as a "tool" message with its tool_call_id.
    /// </summary>
    internal static JsonArray ToTemplateMessages(IEnumerable<ChatMessage> messages)
    {
        var array = new JsonArray();
        foreach (var m in messages)
        {
            string role = m.Role.Value;
            if (role is not ("system" or "user" or "assistant" or "tool"))
                throw new NotSupportedException($"Message role '{role}' is not supported; QwenChatClient takes system, user, assistant and tool messages.");
            var text = new StringBuilder();
            JsonArray? calls = null;
            foreach (var content in m.Contents)
            {
                switch (content)
                {
                    case TextContent t:
                        text.Append(t.Text);
                        break;
                    case FunctionCallContent call:
                        calls ??= [];
                        calls.Add(new JsonObject
                        {
                            ["type"] = "function",
                            ["id"] = call.CallId,
                            ["function"] = new JsonObject
                            {
                                ["name"] = call.Name,
                                ["arguments"] = System.Text.Json.JsonSerializer.SerializeToNode(call.Arguments ?? new Dictionary<string, object?>(),
                                    AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(IDictionary<string, object?>))),
                            },
                        });
                        break;
                    case FunctionResultContent result:
                        array.Add(new JsonObject { ["role"] = "tool", ["content"] = ResultText(result.Result), ["tool_call_id"] = result.CallId });
                        break;
                    // Reasoning text and usage are not part of what the model reads back.
                    case TextReasoningContent or UsageContent:
                        break;
                    default:
                        throw new NotSupportedException($"A {role} message holds {content.GetType().Name}; QwenChatClient takes text, function calls and function results.");
                }
            }
            if (role == "tool" && calls is null && text.Length == 0) continue; // its results were added above
            var message = new JsonObject { ["role"] = role, ["content"] = text.ToString() };
            if (calls is not null) message["tool_calls"] = calls;
            array.Add(message);
        }
        return array;
    }

    /// <summary>A function's result as the text the model reads: strings as they are, anything else as JSON.</summary>
    private static string ResultText(object? result) => result switch
    {
        null => "",
        string s => s,
        System.Text.Json.JsonElement e when e.ValueKind == System.Text.Json.JsonValueKind.String => e.GetString()!,
        _ => System.Text.Json.JsonSerializer.Serialize(result, AIJsonUtilities.DefaultOptions.GetTypeInfo(result.GetType())),
    };

    private static UsageDetails Usage(GenerationResult result, int cachedTokens) => new()
    {
        CachedInputTokenCount = cachedTokens,
        InputTokenCount = result.PromptTokens,
        OutputTokenCount = result.CompletionTokens,
        TotalTokenCount = result.PromptTokens + result.CompletionTokens,
    };

    private static ChatFinishReason? ToChatFinishReason(FinishReason reason) => reason switch
    {
        FinishReason.Stop => ChatFinishReason.Stop,
        FinishReason.Length => ChatFinishReason.Length,
        _ => null,
    };

    private static string NewId() => "chatcmpl-" + Guid.NewGuid().ToString("N");

    private static string NameOf(string path)
    {
        string trimmed = path.TrimEnd(System.IO.Path.DirectorySeparatorChar, System.IO.Path.AltDirectorySeparatorChar);
        string name = System.IO.Path.GetFileName(trimmed);
        return name.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? name[..^5] : name;
    }
}
