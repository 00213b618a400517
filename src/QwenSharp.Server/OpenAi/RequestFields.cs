using System.Text.Json;

namespace QwenSharp.Server.OpenAi;

/// <summary>
/// Typed, named access to the fields of a JSON request object. Every getter refuses a wrong type with a 400
/// naming the field, and remembers what was read so <see cref="RejectUnread"/> can refuse parameters the server
/// does not implement instead of silently ignoring them. A JSON null counts as absent (OpenAI's clients send it).
/// </summary>
public sealed class RequestFields
{
    private readonly JsonElement _root;
    private readonly string _prefix;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public RequestFields(JsonElement root, string prefix = "") : this(root, prefix, new List<string>()) { }

    /// <summary>A nested object's fields; ignored fields are reported with the whole request's.</summary>
    private RequestFields(JsonElement root, string prefix, List<string> ignored)
    {
        _prefix = prefix;
        _ignored = ignored;
        if (root.ValueKind != JsonValueKind.Object)
            throw ApiException.BadRequest(prefix.Length == 0
                ? $"The request body must be a JSON object, got {Describe(root.ValueKind)}."
                : $"'{prefix.TrimEnd('.')}' must be an object, got {Describe(root.ValueKind)}.", prefix.Length == 0 ? null : prefix.TrimEnd('.'));
        _root = root;
    }

    public JsonElement Root => _root;

    public string Name(string field) => _prefix + field;

    /// <summary>The field's value, or null when absent or JSON null.</summary>
    public JsonElement? Raw(string field)
    {
        _read.Add(field);
        return _root.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;
    }

    public bool Has(string field) => Raw(field) != null;

    public string? String(string field)
    {
        if (Raw(field) is not { } v) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw TypeError(field, "a string", v);
    }

    public bool? Bool(string field)
    {
        if (Raw(field) is not { } v) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw TypeError(field, "a boolean", v),
        };
    }

    /// <summary>A number within [min, max]; the message names the range, as vLLM's SamplingParams checks do.</summary>
    public double? Number(string field, double min = double.NegativeInfinity, double max = double.PositiveInfinity,
        bool minExclusive = false)
    {
        if (Raw(field) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || !double.IsFinite(d))
            throw TypeError(field, "a number", v);
        if (d < min || d > max || (minExclusive && d == min))
            throw ApiException.BadRequest($"'{Name(field)}' must be {RangeText(min, max, minExclusive)}, got {d.ToString(System.Globalization.CultureInfo.InvariantCulture)}.", Name(field));
        return d;
    }

    public long? Long(string field, long min = long.MinValue, long max = long.MaxValue)
    {
        if (Raw(field) is not { } v) return null;
        long value = AsLong(v, Name(field));
        if (value < min || value > max)
            throw ApiException.BadRequest($"'{Name(field)}' must be {RangeText(min, max, false)}, got {value}.", Name(field));
        return value;
    }

    public int? Int(string field, int min = int.MinValue, int max = int.MaxValue) =>
        Long(field, min, max) is { } l ? (int)l : null;

    /// <summary>A string or an array of strings (OpenAI's `stop`).</summary>
    public IReadOnlyList<string> StringOrStrings(string field)
    {
        if (Raw(field) is not { } v) return [];
        if (v.ValueKind == JsonValueKind.String) return [v.GetString()!];
        if (v.ValueKind != JsonValueKind.Array) throw TypeError(field, "a string or an array of strings", v);
        var list = new List<string>();
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String) throw TypeError(field, "a string or an array of strings", v);
            list.Add(item.GetString()!);
        }
        return list;
    }

    public IReadOnlyList<int> Ints(string field)
    {
        if (Raw(field) is not { } v) return [];
        if (v.ValueKind != JsonValueKind.Array) throw TypeError(field, "an array of integers", v);
        var list = new List<int>();
        foreach (var item in v.EnumerateArray()) list.Add(AsInt(item, Name(field)));
        return list;
    }

    public RequestFields? Object(string field) =>
        Raw(field) is { } v ? new RequestFields(v, Name(field) + ".", _ignored) : null;

    /// <summary>Fields accepted and ignored because they do not change the output (store, metadata…), as sent.</summary>
    public IReadOnlyList<string> Ignored => _ignored;
    private readonly List<string> _ignored;

    /// <summary>Accepts <paramref name="field"/> without using it: it does not change the output (vLLM accepts such
    /// fields too). The endpoint logs it once per server (<see cref="ServingContext.NoteIgnored"/>).</summary>
    public void Ignore(string field)
    {
        if (Raw(field) is not null) _ignored.Add(Name(field));
    }

    /// <summary>Refuses every field no getter asked for (vLLM would warn and ignore; the issue wants a refusal).</summary>
    public void RejectUnread()
    {
        var unread = new List<string>();
        foreach (var p in _root.EnumerateObject())
            if (!_read.Contains(p.Name)) unread.Add(Name(p.Name));
        if (unread.Count == 1)
            throw ApiException.BadRequest($"Unsupported parameter '{unread[0]}': QwenSharp does not implement it.", unread[0]);
        if (unread.Count > 1)
            throw ApiException.BadRequest($"Unsupported parameters: {string.Join(", ", unread.Select(u => $"'{u}'"))}; QwenSharp does not implement them.", unread[0]);
    }

    public static int AsInt(JsonElement v, string name)
    {
        long l = AsLong(v, name);
        if (l is < int.MinValue or > int.MaxValue)
            throw ApiException.BadRequest($"'{name}' must be a 32-bit integer, got {l}.", name);
        return (int)l;
    }

    public static long AsLong(JsonElement v, string name)
    {
        if (v.ValueKind == JsonValueKind.Number)
        {
            if (v.TryGetInt64(out long l)) return l;
            // 5.0 is an integer to pydantic (vLLM's validator); 5.5 is not.
            if (v.TryGetDouble(out double d) && Math.Floor(d) == d && Math.Abs(d) < 9e15) return (long)d;
        }
        throw ApiException.BadRequest($"'{name}' must be an integer, got {DescribeValue(v)}.", name);
    }

    public ApiException TypeError(string field, string expected, JsonElement got) =>
        ApiException.BadRequest($"'{Name(field)}' must be {expected}, got {DescribeValue(got)}.", Name(field));

    public static string DescribeValue(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Number => $"the number {v.GetRawText()}",
        JsonValueKind.String => $"the string {Truncate(v.GetRawText())}",
        _ => Describe(v.ValueKind),
    };

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..37] + "...";

    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    private static string RangeText(double min, double max, bool minExclusive)
    {
        static string F(double x) => x.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // int and long extremes stand for "no bound" (the getters' defaults).
        bool hasMin = !double.IsNegativeInfinity(min) && min > int.MinValue;
        bool hasMax = !double.IsPositiveInfinity(max) && max < int.MaxValue;
        if (hasMin && hasMax) return minExclusive ? $"in ({F(min)}, {F(max)}]" : $"in [{F(min)}, {F(max)}]";
        if (hasMin) return minExclusive ? $"greater than {F(min)}" : $"at least {F(min)}";
        if (hasMax) return $"at most {F(max)}";
        return "a number";
    }
}
