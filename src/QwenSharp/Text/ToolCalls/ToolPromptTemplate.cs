using System.Reflection;

namespace QwenSharp.Text.ToolCalls;

/// <summary>
/// A chat template that can put tools into the prompt for models whose own template cannot. Qwen2-Instruct's
/// template never reads <c>tools</c>, so a request's tool definitions and its assistant <c>tool_calls</c> /
/// <c>role: tool</c> history would vanish from the prompt. Ollama's qwen2 template adds Qwen's tool format
/// there; this does the same with the Qwen2.5-Instruct template's tools and tool-history handling
/// (tests/fixtures/templates/qwen2.5-instruct.jinja, Apache-2.0, Qwen team), whose one change is the default
/// system message: Qwen2's "You are a helpful assistant." instead of Qwen2.5's "You are Qwen, created by
/// Alibaba Cloud. You are a helpful assistant.". Without tools and tool history it renders exactly as
/// Qwen2-Instruct's own template.
/// </summary>
public static class ToolPromptTemplate
{
    private const string ResourceName = "QwenSharp.Text.ToolCalls.qwen2-tools.jinja";

    private static readonly Lazy<string> Source = new(() =>
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing from QwenSharp.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    /// <summary>The Qwen2 tools template's text (Qwen2.5-Instruct's with Qwen2's default system message).</summary>
    public static string Qwen2ToolsSource => Source.Value;

    /// <summary>The Qwen2 tools template, with the given special tokens.</summary>
    public static ChatTemplate Qwen2Tools(string? bosToken = null, string? eosToken = null) =>
        ChatTemplate.Parse(Source.Value, "QwenSharp's Qwen2 tools template (Qwen2.5-Instruct's, Qwen2's default system message)", bosToken, eosToken);

    /// <summary>Whether <paramref name="template"/> reads <c>tools</c> when tools are given.</summary>
    public static bool ReadsTools(ChatTemplate template)
    {
        ArgumentNullException.ThrowIfNull(template);
        return template.ReadsVariable("tools", hasTools: true);
    }

    /// <summary>The template to render a request with tools: <paramref name="template"/> itself when it reads
    /// <c>tools</c>, otherwise <see cref="Qwen2Tools"/> with its special tokens and limits.</summary>
    public static ChatTemplate ForTools(ChatTemplate template)
    {
        if (ReadsTools(template)) return template;
        return ChatTemplate.Parse(Source.Value, $"QwenSharp's Qwen2 tools template (standing in for {template.Origin}, which never reads tools)",
            template.BosToken, template.EosToken, template.Limits);
    }
}
