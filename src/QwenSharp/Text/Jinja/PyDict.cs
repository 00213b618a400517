using System.Diagnostics.CodeAnalysis;

namespace QwenSharp.Text.Jinja;

/// <summary>A Python dict: insertion-ordered (json.dumps and iteration keep the order the JSON had), keys
/// compared with Python equality so that 1, 1.0 and True are one key.</summary>
internal sealed class PyDict
{
    private readonly OrderedDictionary<object, object?> _items = new(KeyComparer.Instance);

    public int Count => _items.Count;
    public IEnumerable<object> Keys => _items.Keys;
    public IEnumerable<object?> Values => _items.Values;
    public IEnumerable<KeyValuePair<object, object?>> Items => _items;

    public object? this[object? key]
    {
        set => _items[key ?? NoneKey] = value;
    }

    public bool TryGet(object? key, out object? value) => _items.TryGetValue(key ?? NoneKey, out value);

    public bool ContainsKey(object? key) => _items.ContainsKey(key ?? NoneKey);

    /// <summary>Python's None used as a key (OrderedDictionary refuses null keys).</summary>
    private static readonly object NoneKey = new();

    public static object? KeyValue(object key) => ReferenceEquals(key, NoneKey) ? null : key;

    private sealed class KeyComparer : IEqualityComparer<object>
    {
        public static readonly KeyComparer Instance = new();

        public new bool Equals(object? x, object? y) =>
            ReferenceEquals(x, y) || (!ReferenceEquals(x, NoneKey) && !ReferenceEquals(y, NoneKey) && PyOperators.AreEqual(x, y));

        public int GetHashCode([DisallowNull] object obj) => obj switch
        {
            bool b => b ? 1 : 0,
            long l => l.GetHashCode(),
            double d when d == Math.Floor(d) && d >= long.MinValue && d <= long.MaxValue => ((long)d).GetHashCode(),
            string s => s.GetHashCode(),
            _ => obj.GetHashCode(),
        };
    }
}
