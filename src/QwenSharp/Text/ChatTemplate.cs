using System.Text.Json.Nodes;
using QwenSharp.Text.Jinja;

namespace QwenSharp.Text;

/// <summary>
/// A model's chat template: turns a conversation (OpenAI-style messages, optional tool definitions) into
/// the prompt text exactly as Hugging Face's <c>tokenizer.apply_chat_template(..., tokenize=False)</c> does,
/// by interpreting the template's Jinja with the same environment (see <see cref="JinjaTemplate"/>).
/// Messages and tools are JSON so any field a template reads (tool_calls, reasoning_content…) passes through.
/// </summary>
public sealed partial class ChatTemplate
{
    private readonly Dictionary<string, JinjaTemplate> _templates;

    private ChatTemplate(Dictionary<string, JinjaTemplate> templates, string origin, string? bosToken, string? eosToken, TemplateLimits? limits)
    {
        _templates = templates;
        Origin = origin;
        BosToken = bosToken;
        EosToken = eosToken;
        Limits = limits ?? TemplateLimits.Default;
    }

    /// <summary>The variables the renderer sets itself, which extra variables may not replace (Hugging Face
    /// passes them as named arguments of render(), so passing one again in kwargs is a TypeError there).
    /// bos_token and eos_token may be replaced: Hugging Face merges the kwargs over the special tokens.</summary>
    private static readonly Dictionary<string, string> RendererVariables = new(StringComparer.Ordinal)
    {
        ["messages"] = "the conversation",
        ["tools"] = "the tool definitions",
        ["documents"] = "the documents",
        ["add_generation_prompt"] = "whether to open the assistant's turn",
    };

    /// <summary>What parsing and rendering this template may cost (<see cref="Render"/> may override them).</summary>
    public TemplateLimits Limits { get; }

    /// <summary>Where the template came from, as used in error messages.</summary>
    public string Origin { get; }

    /// <summary>The model's bos_token text (visible to the template as <c>bos_token</c>), or null when it has none.</summary>
    public string? BosToken { get; }

    /// <summary>The model's eos_token text (visible to the template as <c>eos_token</c>), or null when it has none.</summary>
    public string? EosToken { get; }

    /// <summary>The text of the default template (or the first named one).</summary>
    public string Source => (_templates.TryGetValue("default", out var t) ? t : _templates.Values.First()).Source;

    /// <summary>The names of the templates a model ships ("default", and e.g. "tool_use" or "rag").</summary>
    public IReadOnlyCollection<string> Names => _templates.Keys;

    /// <summary>Parses one template.</summary>
    /// <param name="origin">a file path or a description ("tokenizer.chat_template of model.gguf") for errors</param>
    /// <param name="limits">what the template may cost; <see cref="TemplateLimits.Default"/> when null</param>
    /// <exception cref="TemplateException">a syntax error or unsupported construct, or a template nested deeper
    /// than <see cref="TemplateLimits.MaxDepth"/>, naming the line</exception>
    public static ChatTemplate Parse(string source, string origin, string? bosToken = null, string? eosToken = null, TemplateLimits? limits = null) =>
        new(new Dictionary<string, JinjaTemplate>(StringComparer.Ordinal) { ["default"] = JinjaTemplate.Parse(source, origin, limits) },
            origin, bosToken, eosToken, limits);

    /// <summary>Parses a set of named templates (tokenizer_config.json's list form); "default" must be among them
    /// unless only "tool_use" is wanted.</summary>
    public static ChatTemplate ParseNamed(IReadOnlyDictionary<string, string> sources, string origin, string? bosToken = null, string? eosToken = null,
        TemplateLimits? limits = null)
    {
        var templates = new Dictionary<string, JinjaTemplate>(StringComparer.Ordinal);
        foreach (var (name, source) in sources) templates[name] = JinjaTemplate.Parse(source, $"{origin} (template '{name}')", limits);
        if (templates.Count == 0) throw new ArgumentException($"{origin} lists no chat templates.");
        return new ChatTemplate(templates, origin, bosToken, eosToken, limits);
    }

    /// <summary>
    /// Renders the prompt. Variables are those apply_chat_template passes: <c>messages</c>, <c>tools</c>
    /// (None when null), <c>documents</c> (None), <c>add_generation_prompt</c>, the special tokens
    /// <c>bos_token</c>/<c>eos_token</c> when known, then <paramref name="extraVariables"/> (e.g.
    /// <c>enable_thinking</c>), which may override the special tokens.
    /// </summary>
    /// <param name="bosToken">overrides <see cref="BosToken"/> when not null</param>
    /// <param name="eosToken">overrides <see cref="EosToken"/> when not null</param>
    /// <param name="limits">what the render may cost; <see cref="Limits"/> when null</param>
    /// <exception cref="TemplateException">the template failed (naming its line), called raise_exception
    /// (<see cref="TemplateErrorKind.Raised"/>), went past a limit (<see cref="TemplateErrorKind.Limit"/>), or
    /// was given an extra variable the renderer sets itself or a value it cannot take
    /// (<see cref="TemplateErrorKind.Input"/>); every kind is the request's or the template's fault, not the
    /// caller's</exception>
    public string Render(JsonArray messages, JsonArray? tools = null, bool addGenerationPrompt = true,
        IReadOnlyDictionary<string, JsonNode?>? extraVariables = null, string? bosToken = null, string? eosToken = null,
        Func<DateTime>? now = null, TemplateLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        limits ??= Limits;
        try
        {
            return Select(tools != null).Render(Variables(messages, tools, addGenerationPrompt, extraVariables, bosToken, eosToken, limits), now, limits);
        }
        catch (TemplateException e)
        {
            e.Origin ??= Origin;
            throw;
        }
    }

    private Dictionary<string, object?> Variables(JsonArray messages, JsonArray? tools, bool addGenerationPrompt,
        IReadOnlyDictionary<string, JsonNode?>? extraVariables, string? bosToken, string? eosToken, TemplateLimits limits)
    {
        object? Value(string name, JsonNode? node)
        {
            try
            {
                return JsonValues.FromNode(node, limits.MaxDepth);
            }
            catch (TemplateException e) when (e.Kind == TemplateErrorKind.Input)
            {
                throw TemplateException.Input($"the variable '{name}' holds {e.Detail}", name);
            }
        }

        var variables = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = Value("messages", messages),
            ["tools"] = tools == null ? null : Value("tools", tools),
            ["documents"] = null,
            ["add_generation_prompt"] = addGenerationPrompt,
        };
        // Hugging Face passes the special-tokens map: a token the tokenizer lacks is left undefined, not None.
        if ((bosToken ?? BosToken) is { } bos) variables["bos_token"] = bos;
        if ((eosToken ?? EosToken) is { } eos) variables["eos_token"] = eos;
        if (extraVariables != null)
        {
            foreach (var (name, value) in extraVariables)
            {
                if (RendererVariables.TryGetValue(name, out var meaning))
                    throw TemplateException.Input($"the template variable '{name}' is set by the renderer ({meaning}) and cannot also be passed as an extra variable", name);
                variables[name] = Value(name, value);
            }
        }
        return variables;
    }

    /// <summary>Hugging Face's choice among named templates: "tool_use" when tools are given and it exists,
    /// else "default".</summary>
    private JinjaTemplate Select(bool hasTools)
    {
        if (hasTools && _templates.TryGetValue("tool_use", out var toolUse)) return toolUse;
        if (_templates.TryGetValue("default", out var template)) return template;
        throw new InvalidOperationException(
            $"{Origin} has no 'default' chat template (it has {string.Join(", ", _templates.Keys.Select(k => $"'{k}'"))}).");
    }
}
