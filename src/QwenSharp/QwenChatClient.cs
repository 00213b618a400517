using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using QwenSharp.Engine;
using QwenSharp.Generation;
using QwenSharp.Text.ToolCalls;

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
        var (prompt, parameters, tools) = Prepare(messages, options);
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
        var finish = ToChatFinishReason(result.FinishReason);
        if (tools)
        {
            var parse = ToolReply.Read(result.Text);
            message.Contents = ToolReplyContents(parse);
            if (parse.Calls.Count > 0 && result.FinishReason == FinishReason.Stop) finish = ChatFinishReason.ToolCalls;
        }
        return new ChatResponse(message)
        {
            ResponseId = responseId,
            ModelId = ModelId,
            CreatedAt = createdAt,
            FinishReason = finish,
            Usage = Usage(result, cached),
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (prompt, parameters, tools) = Prepare(messages, options);
        string responseId = NewId();
        var createdAt = DateTimeOffset.UtcNow;
        // Calls go out whole with the last update (as the OpenAI adapter assembles them); text streams before.
        var splitter = tools ? new ToolCallStreamSplitter(deferCalls: true) : null;
        await foreach (var e in _model.GenerateAsync(prompt, parameters, 0, cancellationToken).ConfigureAwait(false))
        {
            // The engine's channel hands out events already queued without looking at the token again;
            // checking here stops the stream at the next event after cancellation.
            cancellationToken.ThrowIfCancellationRequested();
            string delta = e.TextDelta;
            if (splitter != null) delta = string.Concat(splitter.Push(delta).OfType<ContentDelta>().Select(c => c.Text));
            var update = new ChatResponseUpdate(ChatRole.Assistant, delta.Length > 0 ? delta : null)
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
                if (splitter != null)
                {
                    var end = splitter.Finish();
                    string rest = string.Concat(end.Events.OfType<ContentDelta>().Select(c => c.Text));
                    int open = rest.IndexOf(ToolCallParser.StartTag, StringComparison.Ordinal);
                    if (open >= 0) rest = rest[..open]; // a call cut by max_tokens: only the text before it
                    if (rest.Length > 0) update.Contents.Add(new TextContent(rest));
                    foreach (var call in end.Final.Calls) update.Contents.Add(FunctionCall(call));
                    if (end.Final.Calls.Count > 0 && result.FinishReason == FinishReason.Stop) update.FinishReason = ChatFinishReason.ToolCalls;
                }
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

    private (int[] Prompt, ResolvedSamplingParams Parameters, bool ParseTools) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var (tools, toolGrammar) = Tools(options, ResponseFormat(options?.ResponseFormat));
        var sampling = options.ToSamplingParams();
        // One choice per request: IChatClient has no n.
        if (sampling.N is > 1) throw new ArgumentException($"n must be 1 for a chat client, got {sampling.N}.");
        // Instructions are a system message ahead of the conversation, as the OpenAI adapter sends them.
        if (options?.Instructions is { Length: > 0 } instructions) messages = [new ChatMessage(ChatRole.System, instructions), .. messages];
        int[] prompt = _model.Tokenizer.Encode(_model.RenderChat(ToTemplateMessages(messages), tools));
        // A prompt too long for the context is refused by the engine with both counts and the limit.
        return (prompt, _model.Constrain(_model.Resolve(sampling, prompt.Length), toolGrammar), tools != null && toolGrammar?.Label == "tool_calls");
    }

    /// <summary>
    /// ChatOptions.Tools (AIFunctionDeclarations) as OpenAI tool definitions for the template, and the grammar of
    /// calls under ToolMode (null or Auto: "auto"; None; RequireAny: "required"; RequireSpecific: that function)
    /// and AllowMultipleToolCalls (default true, as OpenAI's parallel_tool_calls). A ResponseFormat (<paramref name="text"/>)
    /// is what the reply must be when it calls nothing, so GetResponseAsync&lt;T&gt; works inside a function-invocation loop.
    /// </summary>
    private static (JsonArray? Tools, Grammar.StructuredOutput? Grammar) Tools(ChatOptions? options, Grammar.StructuredOutput? text)
    {
        if (options?.Tools is not { Count: > 0 } aiTools) return (null, text);
        var array = new JsonArray();
        foreach (var tool in aiTools)
        {
            if (tool is not AIFunctionDeclaration f)
                throw new NotSupportedException($"Tool '{tool.Name}' is a {tool.GetType().Name}; QwenChatClient calls functions (AIFunctionDeclaration) only.");
            var function = new JsonObject { ["name"] = f.Name };
            if (!string.IsNullOrEmpty(f.Description)) function["description"] = f.Description;
            function["parameters"] = JsonNode.Parse(f.JsonSchema.GetRawText());
            array.Add(new JsonObject { ["type"] = "function", ["function"] = function });
        }
        JsonNode? mode = options.ToolMode switch
        {
            NoneChatToolMode => "none",
            RequiredChatToolMode { RequiredFunctionName: { } name } => new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = name } },
            RequiredChatToolMode => "required",
            _ => "auto",
        };
        try
        {
            var definitions = ToolDefinition.ParseAll(array);
            var choice = ToolChoice.Parse(mode, definitions);
            return (array, Grammar.ToolCallGrammar.For(definitions, choice, options.AllowMultipleToolCalls ?? true, text: text));
        }
        catch (ToolRequestException e)
        {
            throw new ArgumentException(e.Message, nameof(options), e);
        }
    }

    /// <summary>A parsed reply as contents: its text (if any) and one FunctionCallContent per call, arguments as JSON elements.</summary>
    private static List<AIContent> ToolReplyContents(ToolCallParse parse)
    {
        var contents = new List<AIContent>();
        if (!string.IsNullOrEmpty(parse.Content)) contents.Add(new TextContent(parse.Content));
        foreach (var call in parse.Calls) contents.Add(FunctionCall(call));
        return contents;
    }

    private static FunctionCallContent FunctionCall(ToolCall call) => new(call.Id, call.Name,
        System.Text.Json.JsonSerializer.Deserialize(call.Arguments, AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(Dictionary<string, object?>))) as Dictionary<string, object?>);

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
