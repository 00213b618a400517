namespace QwenSharp.Text.Jinja;

/// <summary>What went wrong in a template, so callers (and tests) can tell a bad template from a template
/// that chose to fail.</summary>
public enum TemplateErrorKind
{
    /// <summary>The source is not valid Jinja (Jinja2 would refuse to compile it too).</summary>
    Syntax,
    /// <summary>Valid Jinja that this interpreter does not implement; never rendered approximately.</summary>
    Unsupported,
    /// <summary>An error while rendering, as Jinja2 would raise it (undefined value used, type mismatch).</summary>
    Runtime,
    /// <summary>The template called <c>raise_exception(message)</c>, as Hugging Face templates do to refuse input.</summary>
    Raised,
    /// <summary>Parsing or rendering went past one of the <see cref="TemplateLimits"/> (time, steps, output or
    /// value size, nesting); the message names the limit.</summary>
    Limit,
    /// <summary>The caller's variables cannot be given to the template: one the renderer sets itself (messages,
    /// tools, documents, add_generation_prompt) passed again as an extra variable, or a value that does not
    /// convert to a template value. A fault of the request, not of the template.</summary>
    Input,
}

/// <summary>
/// An error in a chat template: one sentence naming the template (its origin, e.g. a file) and the line,
/// like Jinja2's TemplateSyntaxError / UndefinedError, so a user can find the spot.
/// </summary>
public sealed class TemplateException : Exception
{
    public TemplateException(TemplateErrorKind kind, string detail, string? origin = null, int line = 0)
        : base(detail)
    {
        Kind = kind;
        Detail = detail;
        Origin = origin;
        Line = line;
    }

    public TemplateErrorKind Kind { get; }

    /// <summary>The problem alone, without origin and line.</summary>
    public string Detail { get; }

    public string? Origin { get; internal set; }

    /// <summary>1-based template line; 0 while not yet known.</summary>
    public int Line { get; internal set; }

    /// <summary>For <see cref="TemplateErrorKind.Input"/>: the template variable at fault ("messages",
    /// "tools" or an extra variable's name), so a server can point at the request field.</summary>
    public string? Variable { get; internal init; }

    public override string Message
    {
        get
        {
            string where = (Origin, Line) switch
            {
                (null, 0) => "",
                (null, _) => $"template line {Line}: ",
                (_, 0) => $"{Origin}: ",
                _ => $"{Origin}, line {Line}: ",
            };
            string what = Kind switch
            {
                TemplateErrorKind.Syntax => "template syntax error: ",
                TemplateErrorKind.Unsupported => "unsupported Jinja construct: ",
                TemplateErrorKind.Raised => "the chat template raised an error: ",
                TemplateErrorKind.Limit => "template limit exceeded: ",
                TemplateErrorKind.Input => "invalid template input: ",
                _ => "template error: ",
            };
            return where + what + Detail;
        }
    }

    internal static TemplateException Syntax(string detail, int line) => new(TemplateErrorKind.Syntax, detail, null, line);
    internal static TemplateException Unsupported(string detail, int line = 0) => new(TemplateErrorKind.Unsupported, detail, null, line);
    internal static TemplateException Runtime(string detail) => new(TemplateErrorKind.Runtime, detail);
    internal static TemplateException Limit(string detail, int line = 0) => new(TemplateErrorKind.Limit, detail, null, line);
    internal static TemplateException Input(string detail, string? variable = null) => new(TemplateErrorKind.Input, detail) { Variable = variable };
}
