using System.Collections;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// The lazy sequences Python hands out where a template may print them: dict.keys()/values()/items()
/// views and range(). They iterate, index and measure like lists, but print as Python prints them
/// (<c>dict_keys(['a'])</c>, <c>range(0, 3)</c>), are not JSON serializable and never equal a list.
/// </summary>
internal sealed class PyView(string typeName, IReadOnlyList<object?> items, string? text = null) : IReadOnlyList<object?>
{
    /// <summary>"dict_keys", "dict_values", "dict_items" or "range".</summary>
    public string TypeName { get; } = typeName;

    /// <summary>repr(): range(0, 3), or dict_keys([...]) from the items.</summary>
    public string? Text { get; } = text;

    public object? this[int index] => items[index];
    public int Count => items.Count;
    public IEnumerator<object?> GetEnumerator() => items.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
