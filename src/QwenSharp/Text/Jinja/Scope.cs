namespace QwenSharp.Text.Jinja;

/// <summary>
/// Variables visible at one point of a render. Jinja2 gives every for-loop iteration, macro call and with
/// block its own frame: a <c>set</c> inside one is gone after it (hence <c>namespace()</c>), while a
/// <c>set</c> inside <c>if</c> stays in the enclosing frame. Lookups fall through to the parent frames.
/// </summary>
internal sealed class Scope(Scope? parent)
{
    private readonly Dictionary<string, object?> _vars = new(StringComparer.Ordinal);

    public bool TryGet(string name, out object? value)
    {
        for (var s = this; s != null; s = s.Parent)
            if (s._vars.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }

    public Scope? Parent { get; } = parent;

    public void Set(string name, object? value) => _vars[name] = value;
}
