using System.Text;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// A parsed Jinja template rendered the way Hugging Face's apply_chat_template renders chat templates
/// (an ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and loop controls). Parse once,
/// render many times; rendering never changes the template.
/// </summary>
internal sealed class JinjaTemplate
{
    private readonly IReadOnlyList<Stmt> _body;

    private JinjaTemplate(IReadOnlyList<Stmt> body, string origin, string source)
    {
        _body = body;
        Origin = origin;
        Source = source;
    }

    /// <summary>The template's text as given (reported by Ollama's /api/show).</summary>
    public string Source { get; }

    /// <summary>Where the template came from (a file path, "tokenizer.chat_template"…), used in errors.</summary>
    public string Origin { get; }

    /// <exception cref="TemplateException">a syntax error or an unsupported construct, with its line, or a
    /// template nested deeper than <see cref="TemplateLimits.MaxDepth"/></exception>
    public static JinjaTemplate Parse(string source, string origin, TemplateLimits? limits = null)
    {
        try
        {
            return new JinjaTemplate(Parser.Parse(source, (limits ?? TemplateLimits.Default).MaxDepth), origin, source);
        }
        catch (TemplateException e)
        {
            e.Origin ??= origin;
            throw;
        }
        catch (Exception e) when (Interpreter.IsInternalFailure(e))
        {
            throw new TemplateException(TemplateErrorKind.Syntax, $"internal error while parsing ({e.GetType().Name}: {e.Message})", origin);
        }
    }

    /// <param name="variables">template variables: Python values (see <see cref="JsonValues"/>)</param>
    /// <param name="now">the clock for strftime_now; the local time when null</param>
    /// <param name="limits">what the render may cost; <see cref="TemplateLimits.Default"/> when null</param>
    /// <exception cref="TemplateException">the template failed or went past a limit, naming its line</exception>
    public string Render(IReadOnlyDictionary<string, object?> variables, Func<DateTime>? now = null, TemplateLimits? limits = null)
    {
        var budget = new RenderBudget(limits ?? TemplateLimits.Default);
        var root = new Scope(null);
        foreach (var (name, value) in variables) root.Set(name, value);
        var output = new StringBuilder();
        try
        {
            new Interpreter(Globals.Create(now ?? (() => DateTime.Now), budget), budget).RenderBody(_body, root, output);
        }
        catch (TemplateException e)
        {
            e.Origin ??= Origin;
            throw;
        }
        catch (Exception e) when (Interpreter.IsInternalFailure(e))
        {
            // The interpreter turns these into errors with a line; one escaping here came from outside an expression.
            throw new TemplateException(TemplateErrorKind.Runtime, $"internal error while rendering ({e.GetType().Name}: {e.Message})", Origin);
        }
        return output.ToString();
    }
}
