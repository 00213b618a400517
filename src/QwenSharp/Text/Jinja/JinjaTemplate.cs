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

    private JinjaTemplate(IReadOnlyList<Stmt> body, string origin)
    {
        _body = body;
        Origin = origin;
    }

    /// <summary>Where the template came from (a file path, "tokenizer.chat_template"…), used in errors.</summary>
    public string Origin { get; }

    /// <exception cref="TemplateException">a syntax error or an unsupported construct, with its line</exception>
    public static JinjaTemplate Parse(string source, string origin)
    {
        try
        {
            return new JinjaTemplate(Parser.Parse(source), origin);
        }
        catch (TemplateException e)
        {
            e.Origin ??= origin;
            throw;
        }
    }

    /// <param name="variables">template variables: Python values (see <see cref="JsonValues"/>)</param>
    /// <param name="now">the clock for strftime_now; the local time when null</param>
    public string Render(IReadOnlyDictionary<string, object?> variables, Func<DateTime>? now = null)
    {
        var root = new Scope(null);
        foreach (var (name, value) in variables) root.Set(name, value);
        var output = new StringBuilder();
        try
        {
            new Interpreter(Globals.Create(now ?? (() => DateTime.Now))).RenderBody(_body, root, output);
        }
        catch (TemplateException e)
        {
            e.Origin ??= Origin;
            throw;
        }
        catch (Exception e) when (e is InvalidCastException or ArgumentException or IndexOutOfRangeException or InvalidOperationException)
        {
            throw new TemplateException(TemplateErrorKind.Runtime, $"internal error while rendering: {e.Message}", Origin);
        }
        return output.ToString();
    }
}
