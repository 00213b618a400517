namespace QwenSharp.Text.Jinja;

/// <summary>
/// Jinja2's default <c>Undefined</c>: what a missing variable, key or attribute evaluates to. It is falsy,
/// renders as "", iterates as empty, has length 0 and equals only another Undefined; using it for
/// arithmetic, calling it, or reading an attribute or item of it raises an error (jinja2/runtime.py).
/// </summary>
internal sealed class Undefined
{
    public Undefined(string hint) => Hint = hint;

    /// <summary>Jinja2's message for the error raised when this value is used: "'x' is undefined" or
    /// "'dict object' has no attribute 'y'".</summary>
    public string Hint { get; }

    public static Undefined Named(string name) => new($"'{name}' is undefined");

    public TemplateException Error() => TemplateException.Runtime(Hint);

    public override string ToString() => "";
}
