namespace QwenSharp.Formats;

/// <summary>
/// The key/value metadata of a GGUF file with typed access. Integers widen or narrow where the value fits, as
/// llama.cpp tolerates (a context length stored as u32 or u64 reads the same); any other type mismatch, and a
/// missing key in a Get, is a <see cref="FormatException"/> naming the file and the key. TryGet returns false only
/// when the key is absent: a key present with the wrong type is still an error.
/// </summary>
public sealed class GgufMetadata
{
    private readonly Dictionary<string, object> _values;
    private readonly List<string> _keys;

    internal GgufMetadata(string origin, Dictionary<string, object> values, List<string> keys)
    {
        Origin = origin;
        _values = values;
        _keys = keys;
    }

    /// <summary>The file the metadata comes from, for messages.</summary>
    public string Origin { get; }
    /// <summary>Keys in file order.</summary>
    public IReadOnlyList<string> Keys => _keys;
    public int Count => _keys.Count;
    public bool Contains(string key) => _values.ContainsKey(key);

    /// <summary>The raw value: byte, sbyte, ushort, short, uint, int, float, bool, string, GgufArray, ulong, long or double.</summary>
    public object GetValue(string key) =>
        _values.TryGetValue(key, out var v) ? v : throw new FormatException($"{Origin} has no metadata key {key}.");

    public bool TryGetValue(string key, out object value) => _values.TryGetValue(key, out value!);

    public GgufValueType GetValueType(string key) => GgufValueTypes.Of(GetValue(key))!.Value;

    public string GetString(string key) => TryGetString(key, out var v) ? v : throw Missing(key);
    public bool TryGetString(string key, out string value) => TryGet(key, out value, v => v as string, "a string");

    public bool GetBool(string key) => TryGetBool(key, out var v) ? v : throw Missing(key);
    public bool TryGetBool(string key, out bool value) => TryGet(key, out value, v => v as bool?, "a bool");

    public uint GetUInt32(string key) => TryGetUInt32(key, out var v) ? v : throw Missing(key);
    public bool TryGetUInt32(string key, out uint value) => TryGetInteger(key, out value, uint.MinValue, uint.MaxValue, "u32", x => (uint)x);

    public int GetInt32(string key) => TryGetInt32(key, out var v) ? v : throw Missing(key);
    public bool TryGetInt32(string key, out int value) => TryGetInteger(key, out value, int.MinValue, int.MaxValue, "i32", x => (int)x);

    public long GetInt64(string key) => TryGetInt64(key, out var v) ? v : throw Missing(key);
    public bool TryGetInt64(string key, out long value) => TryGetInteger(key, out value, long.MinValue, long.MaxValue, "i64", x => (long)x);

    public ulong GetUInt64(string key) => TryGetUInt64(key, out var v) ? v : throw Missing(key);
    public bool TryGetUInt64(string key, out ulong value)
    {
        if (!_values.TryGetValue(key, out var raw)) { value = 0; return false; }
        if (raw is ulong u) { value = u; return true; }
        return TryGetInteger(key, out value, 0, long.MaxValue, "u64", x => (ulong)x);
    }

    public float GetFloat32(string key) => TryGetFloat32(key, out var v) ? v : throw Missing(key);
    public bool TryGetFloat32(string key, out float value)
    {
        bool found = TryGetFloat64(key, out double d);
        value = (float)d;
        return found;
    }

    /// <summary>f32 and f64 values, and integers, read as a double.</summary>
    public double GetFloat64(string key) => TryGetFloat64(key, out var v) ? v : throw Missing(key);
    public bool TryGetFloat64(string key, out double value) => TryGet(key, out value, v => v switch
    {
        float f => (double)f,
        double d => d,
        _ => AsInteger(v) is { } i ? (double)i : null,
    }, "a number");

    public GgufArray GetArray(string key) => TryGetArray(key, out var v) ? v : throw Missing(key);
    public bool TryGetArray(string key, out GgufArray value) => TryGet(key, out value, v => v as GgufArray, "an array");

    public string[] GetStringArray(string key) => TryGetStringArray(key, out var v) ? v : throw Missing(key);
    public bool TryGetStringArray(string key, out string[] value) =>
        TryGet(key, out value, v => v is GgufArray { Items: string[] s } ? s : null, "an array of strings");

    /// <summary>An array of any integer type whose values fit an int (e.g. tokenizer.ggml.token_type, stored as i32).</summary>
    public int[] GetInt32Array(string key) => TryGetInt32Array(key, out var v) ? v : throw Missing(key);
    public bool TryGetInt32Array(string key, out int[] value)
    {
        if (!TryGetArray(key, out var array)) { value = []; return false; }
        if (array.Items is int[] direct) { value = direct; return true; }
        var result = new int[array.Count];
        for (int i = 0; i < result.Length; i++)
        {
            long? x = AsInteger(array.Items.GetValue(i)!);
            if (x is not { } n || n < int.MinValue || n > int.MaxValue)
                throw new FormatException($"{Origin}: metadata key {key} is a {GgufValueTypes.Name(array.ElementType)} array whose item {i} is not an integer that fits an i32.");
            result[i] = (int)n;
        }
        value = result;
        return true;
    }

    /// <summary>An array of f32 (or f64, or integers) read as floats.</summary>
    public float[] GetFloat32Array(string key) => TryGetFloat32Array(key, out var v) ? v : throw Missing(key);
    public bool TryGetFloat32Array(string key, out float[] value)
    {
        if (!TryGetArray(key, out var array)) { value = []; return false; }
        if (array.Items is float[] direct) { value = direct; return true; }
        var result = new float[array.Count];
        for (int i = 0; i < result.Length; i++)
        {
            object item = array.Items.GetValue(i)!;
            result[i] = item switch
            {
                double d => (float)d,
                _ => AsInteger(item) is { } n ? n : throw new FormatException($"{Origin}: metadata key {key} is a {GgufValueTypes.Name(array.ElementType)} array, not an array of numbers."),
            };
        }
        value = result;
        return true;
    }

    /// <summary>Any integer value as a long; u64 values over long.MaxValue and non-integers give null.</summary>
    private static long? AsInteger(object v) => v switch
    {
        byte x => x,
        sbyte x => x,
        ushort x => x,
        short x => x,
        uint x => x,
        int x => x,
        long x => x,
        ulong x when x <= long.MaxValue => (long)x,
        _ => null,
    };

    private bool TryGetInteger<T>(string key, out T value, long min, long max, string typeName, Func<long, T> convert)
    {
        value = default!;
        if (!_values.TryGetValue(key, out var raw)) return false;
        if (AsInteger(raw) is not { } n)
            throw new FormatException($"{Origin}: metadata key {key} is {Describe(raw)}, not an integer.");
        if (n < min || n > max)
            throw new FormatException($"{Origin}: metadata key {key} is {n}, which does not fit a {typeName}.");
        value = convert(n);
        return true;
    }

    private bool TryGet<T>(string key, out T value, Func<object, object?> pick, string wanted)
    {
        value = default!;
        if (!_values.TryGetValue(key, out var raw)) return false;
        object? picked = pick(raw);
        if (picked is null)
            throw new FormatException($"{Origin}: metadata key {key} is {Describe(raw)}, not {wanted}.");
        value = (T)picked;
        return true;
    }

    private static string Describe(object raw) => raw is GgufArray a
        ? $"an array of {a.Count} {GgufValueTypes.Name(a.ElementType)}"
        : $"a {GgufValueTypes.Name(GgufValueTypes.Of(raw)!.Value)}";

    private FormatException Missing(string key) => new($"{Origin} has no metadata key {key}.");
}
