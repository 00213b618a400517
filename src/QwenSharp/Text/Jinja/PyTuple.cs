using System.Collections;

namespace QwenSharp.Text.Jinja;

/// <summary>A Python tuple: an immutable sequence that prints as (a, b) and never equals a list.
/// Jinja produces them from (a, b) literals and from dict.items().</summary>
internal sealed class PyTuple(IReadOnlyList<object?> items) : IReadOnlyList<object?>
{
    public static readonly PyTuple Empty = new(Array.Empty<object?>());

    public object? this[int index] => items[index];
    public int Count => items.Count;
    public IEnumerator<object?> GetEnumerator() => items.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
