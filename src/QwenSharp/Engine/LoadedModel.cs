using System.Text.Json.Nodes;
using QwenSharp.Formats;
using QwenSharp.Generation;
using QwenSharp.Grammar;
using QwenSharp.Model;
using QwenSharp.Text;

namespace QwenSharp.Engine;

/// <summary>
/// Everything one model needs to answer requests: its network, tokenizer, chat template, generation defaults
/// (generation_config.json) and a running <see cref="InferenceEngine"/>. The CLI, the server and
/// <c>QwenChatClient</c> all stand on this.
/// </summary>
public sealed class LoadedModel : IDisposable
{
    private LoadedModel(string path, Qwen2Model model, Qwen2Tokenizer tokenizer, ChatTemplate? template,
        GenerationConfig? generationConfig, IReadOnlyList<int> eosTokenIds, InferenceEngine engine)
    {
        Path = path;
        Model = model;
        Tokenizer = tokenizer;
        Template = template;
        GenerationConfig = generationConfig;
        EosTokenIds = eosTokenIds;
        Engine = engine;
    }

    public string Path { get; }
    public Qwen2Model Model { get; }
    public Qwen2Tokenizer Tokenizer { get; }
    /// <summary>The model's chat template; null when the model ships none (then only raw prompts work).</summary>
    public ChatTemplate? Template { get; }
    /// <summary>generation_config.json of a folder; null for GGUF files and folders without one.</summary>
    public GenerationConfig? GenerationConfig { get; }
    /// <summary>Ids that end a sequence unless ignore_eos: generation_config's, else config.json's, else the tokenizer's end tokens.</summary>
    public IReadOnlyList<int> EosTokenIds { get; }
    public InferenceEngine Engine { get; }
    public int MaxModelLen => Engine.MaxModelLen;
    /// <summary>The memory plan the engine was sized by (<see cref="Plan"/>).</summary>
    public MemoryPlan? MemoryPlan { get; private init; }

    private GrammarVocabulary? _grammarVocabulary;
    private readonly GrammarCache _grammars = new();

    /// <summary>The vocabulary as grammars see it (built on first use: every token's bytes, the eos ids as end tokens).</summary>
    public GrammarVocabulary GrammarVocabulary =>
        LazyInitializer.EnsureInitialized(ref _grammarVocabulary,
            () => GrammarVocabulary.FromTokenizer(Tokenizer, Model.Config.VocabSize, [.. EosTokenIds]));

    /// <summary>
    /// A constraint compiled for this model's vocabulary, cached by its GBNF text; throws <see cref="GrammarException"/>.
    /// Every state's token mask is computed here, on the caller's thread (a request's, not the engine loop's), as
    /// xgrammar does at compile time: then no decode step meets a state whose mask is not ready (a cold state costs up
    /// to ~20 ms, a warm mask ~7 µs), and a schema sent with every request pays this once.
    /// </summary>
    public CompiledGrammar CompileGrammar(string gbnf)
    {
        var grammar = _grammars.GetOrCompile(gbnf, GrammarVocabulary);
        grammar.PrecomputeMasks();
        return grammar;
    }

    /// <summary><paramref name="parameters"/> constrained to <paramref name="output"/> (null leaves them as they are).</summary>
    public ResolvedSamplingParams Constrain(ResolvedSamplingParams parameters, StructuredOutput? output) =>
        output is null ? parameters : parameters with { Grammar = CompileGrammar(output.ToGbnf()), StructuredOutput = output.WireName };

    /// <summary>
    /// The memory plan for loading <paramref name="path"/> with <paramref name="options"/>, from its config alone (nothing
    /// is loaded): throws <see cref="MemoryPlanException"/> with the numbers when it cannot fit.
    /// </summary>
    public static MemoryPlan Plan(string path, EngineOptions options, long? available, string? budgetSource = null)
    {
        Qwen2Config config;
        var (weights, c) = ModelFiles.Open(path);
        using (weights) config = c;
        return MemoryPlan.Make(config, ModelFiles.WeightBytes(path), options, available, budgetSource);
    }

    /// <summary>Loads a local model folder or GGUF file (see the Hub for names). <paramref name="chatTemplatePath"/> overrides the model's template.
    /// The memory is planned first (<see cref="Plan"/> against MemAvailable): a model that cannot fit is refused before its
    /// weights are read, and without a KV cache size the cache takes what free memory allows.</summary>
    public static LoadedModel Load(string path, EngineOptions? options = null, string? chatTemplatePath = null, bool useGenerationConfig = true,
        MemoryPlan? plan = null)
    {
        options ??= new EngineOptions();
        plan ??= Plan(path, options, MemoryPlan.AvailableMemory());
        options = options with { KvCacheBytes = plan.KvBytes, MaxModelLen = options.MaxModelLen ?? plan.MaxModelLen };
        var model = ModelFiles.Load(path);
        try
        {
            var tokenizer = TokenizerLoader.Load(path);
            var generationConfig = useGenerationConfig && Directory.Exists(path) ? GenerationConfig.FromModelFolder(path) : null;
            var template = LoadTemplate(path, chatTemplatePath);
            var eos = EndTokens(model.Config, generationConfig, tokenizer);
            var engine = new InferenceEngine(model, skip => new DetokenizerDecoder(tokenizer, skip), options);
            return new LoadedModel(path, model, tokenizer, template, generationConfig, eos, engine) { MemoryPlan = plan };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static ChatTemplate? LoadTemplate(string path, string? overridePath)
    {
        if (overridePath != null)
        {
            if (!File.Exists(overridePath)) throw new FileNotFoundException($"Chat template file {overridePath} does not exist.");
            var (bos, eos) = Directory.Exists(path) ? ChatTemplate.ReadSpecialTokens(path) : (null, null);
            return ChatTemplate.Parse(File.ReadAllText(overridePath), overridePath, bos, eos);
        }
        try
        {
            return ChatTemplate.FromModel(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// The ids that end generation. Qwen2-7B-Instruct's generation_config lists &lt;|im_end|&gt; and
    /// &lt;|endoftext|&gt;; a GGUF file names one eos, so the tokenizer's other end-of-generation tokens are
    /// added as llama.cpp does.
    /// </summary>
    private static IReadOnlyList<int> EndTokens(Qwen2Config config, GenerationConfig? generation, Qwen2Tokenizer tokenizer)
    {
        var ids = new List<int>();
        if (generation is { EosTokenIds.Count: > 0 }) ids.AddRange(generation.EosTokenIds);
        else ids.AddRange(config.EosTokenIds);
        foreach (var end in new[] { "<|im_end|>", "<|endoftext|>" })
            if (generation is not { EosTokenIds.Count: > 0 } && tokenizer.TokenToId(end) is int id && id < config.VocabSize && !ids.Contains(id))
                ids.Add(id);
        return ids;
    }

    /// <summary>The chat prompt as the model's template renders it (apply_chat_template with tokenize=False).</summary>
    public string RenderChat(JsonArray messages, JsonArray? tools = null, bool addGenerationPrompt = true,
        IReadOnlyDictionary<string, JsonNode?>? variables = null)
    {
        if (Template == null)
            throw new InvalidOperationException($"Model {Path} has no chat template; pass one (--chat-template) or send a raw prompt.");
        var template = tools is { Count: > 0 } || HasToolHistory(messages) ? ToolTemplate : Template;
        return template.Render(messages, tools, addGenerationPrompt, variables);
    }

    private ChatTemplate? _toolTemplate;

    /// <summary>The template that renders tools and tool history: the model's own when it reads tools, else Qwen's
    /// tools block around Qwen2's format (as Ollama's qwen2 template; <see cref="Text.ToolCalls.ToolPromptTemplate"/>).</summary>
    public ChatTemplate ToolTemplate => LazyInitializer.EnsureInitialized(ref _toolTemplate,
        () => Text.ToolCalls.ToolPromptTemplate.ForTools(Template ?? throw new InvalidOperationException($"Model {Path} has no chat template.")));

    private static bool HasToolHistory(JsonArray messages) =>
        messages.Any(m => m is JsonObject o && ((string?)o["role"] == "tool" || o["tool_calls"] is JsonArray { Count: > 0 }));

    /// <summary>
    /// Fills a request's unset sampling values from the model's generation_config.json, then vLLM's defaults;
    /// max_tokens defaults to the room left in the context.
    /// </summary>
    public ResolvedSamplingParams Resolve(SamplingParams parameters, int promptTokens) =>
        parameters.Resolve(GenerationConfig, Math.Max(1, MaxModelLen - promptTokens), EosTokenIds);

    public IAsyncEnumerable<GenerationEvent> GenerateAsync(IReadOnlyList<int> prompt, ResolvedSamplingParams parameters,
        int sequenceIndex = 0, CancellationToken cancellationToken = default) =>
        Engine.GenerateAsync(prompt, parameters, sequenceIndex, cancellationToken);

    public void Dispose()
    {
        Engine.Dispose();
        Model.Dispose();
    }
}
