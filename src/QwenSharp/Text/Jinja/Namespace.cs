namespace QwenSharp.Text.Jinja;

/// <summary>Jinja2's <c>namespace(...)</c>: the one object a template may change from inside a loop
/// (<c>{% set ns.found = true %}</c>), since plain <c>set</c> inside a loop does not leak out of it.</summary>
internal sealed class Namespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}
