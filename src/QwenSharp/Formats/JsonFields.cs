using System.Text.Json;

namespace QwenSharp.Formats;

/// <summary>
/// Typed reads of a JSON object's optional fields (config.json and the like): an absent field or JSON null is
/// null; a field of the wrong kind is a <see cref="FormatException"/> naming the file and the key.
/// </summary>
internal readonly struct JsonFields
{
    private readonly JsonElement _object;

    public JsonFields(JsonElement element, string origin, string path = "")
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new FormatException($"{origin}{(path.Length > 0 ? ": " + path : "")} is a JSON {element.ValueKind}, not an object.");
        _object = element;
        Origin = origin;
        Path = path;
    }

    public string Origin { get; }
    /// <summary>Where this object sits in the file ("rope_scaling."), prefixed to keys in messages.</summary>
    public string Path { get; }

    private JsonElement? Field(string key) =>
        _object.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private FormatException Wrong(string key, JsonElement v, string wanted) =>
        new($"{Origin}: {Path}{key} is {Shorten(v.GetRawText())}, not {wanted}.");

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";

    public bool Has(string key) => Field(key) is not null;

    public string? String(string key) => Field(key) is not { } v ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString() : throw Wrong(key, v, "a string");

    public bool? Bool(string key) => Field(key) is not { } v ? null
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Wrong(key, v, "true or false");

    public double? Double(string key) => Field(key) is not { } v ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && double.IsFinite(d) ? d : throw Wrong(key, v, "a number");

    /// <summary>An integer; a number with a zero fraction (e.g. 32768.0) is accepted as Python's json would compare it.</summary>
    public int? Int(string key) => Field(key) is not { } v ? null : AsInt(key, v);

    private int AsInt(string key, JsonElement v)
    {
        if (v.ValueKind == JsonValueKind.Number)
        {
            if (v.TryGetInt32(out int i)) return i;
            if (v.TryGetDouble(out double d) && d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue) return (int)d;
        }
        throw Wrong(key, v, "an integer that fits 32 bits");
    }

    public IReadOnlyList<string>? StringList(string key)
    {
        if (Field(key) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Array) throw Wrong(key, v, "a list of strings");
        var list = new List<string>();
        foreach (var item in v.EnumerateArray())
            list.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw Wrong(key, v, "a list of strings"));
        return list;
    }

    /// <summary>One integer or a list of integers (eos_token_id is either), as a list.</summary>
    public IReadOnlyList<int>? IntOrIntList(string key)
    {
        if (Field(key) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Array) return [AsInt(key, v)];
        var list = new List<int>();
        foreach (var item in v.EnumerateArray()) list.Add(AsInt(key, item));
        return list;
    }

    /// <summary>A list of integers (mlp_only_layers).</summary>
    public IReadOnlyList<int>? IntList(string key)
    {
        if (Field(key) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Array) throw Wrong(key, v, "a list of integers");
        var list = new List<int>();
        foreach (var item in v.EnumerateArray()) list.Add(AsInt(key, item));
        return list;
    }

    public JsonFields? Object(string key) => Field(key) is not { } v ? null
        : v.ValueKind == JsonValueKind.Object ? new JsonFields(v, Origin, Path + key + ".") : throw Wrong(key, v, "an object");
}
