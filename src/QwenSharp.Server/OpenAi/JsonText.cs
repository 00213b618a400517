using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace QwenSharp.Server.OpenAi;

/// <summary>
/// Every string of a request, values and names alike, must be text: valid UTF-8, and no escape of a lone UTF-16
/// surrogate ("\ud800"), which JSON's grammar allows but no Unicode string holds (Python's json reads it, then
/// Hugging Face tokenizers refuse it; .NET would throw when the field is read). Checked once when the body is
/// read, so no later step meets such a string; the 400 names the field by its path, e.g. messages[2].content.
/// </summary>
public static class JsonText
{
    public static void Check(JsonElement root) => Walk(root, new List<string>());

    private static void Walk(JsonElement e, List<string> path)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                {
                    // A name's raw bytes are not exposed without a copy; names are short, so decoding them is cheap.
                    string? problem = NameProblem(p);
                    path.Add(problem == null ? "." + p.Name : ".<name>");
                    if (problem != null) throw Refuse(path, problem + " in a field name");
                    Walk(p.Value, path);
                    path.RemoveAt(path.Count - 1);
                }
                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in e.EnumerateArray())
                {
                    path.Add($"[{i++}]");
                    Walk(item, path);
                    path.RemoveAt(path.Count - 1);
                }
                break;
            case JsonValueKind.String:
                if (ValueProblem(e) is { } what) throw Refuse(path, what);
                break;
        }
    }

    /// <summary>Why the string is not text, or null. Only strings holding an escape of a surrogate are decoded.</summary>
    private static string? ValueProblem(JsonElement e)
    {
        var raw = JsonMarshal.GetRawUtf8Value(e); // with its quotes, escapes as sent
        if (!System.Text.Unicode.Utf8.IsValid(raw)) return "invalid UTF-8";
        if (!MayEscapeSurrogate(raw)) return null;
        try
        {
            e.GetString();
            return null;
        }
        catch (InvalidOperationException)
        {
            return "a lone UTF-16 surrogate escape (\\ud800-\\udfff without its pair)";
        }
    }

    private static string? NameProblem(JsonProperty p)
    {
        try
        {
            _ = p.Name;
            return null;
        }
        catch (InvalidOperationException)
        {
            return "invalid UTF-8 or a lone UTF-16 surrogate escape";
        }
    }

    /// <summary>True when the raw string has "\u" followed by D8-DF (any case): the only way to spell a surrogate.</summary>
    private static bool MayEscapeSurrogate(ReadOnlySpan<byte> raw)
    {
        int at = 0;
        while (true)
        {
            int k = raw[at..].IndexOf("\\u"u8);
            if (k < 0) return false;
            at += k + 2;
            if (at + 1 < raw.Length && (raw[at] | 0x20) == 'd' && (raw[at + 1] | 0x20) is >= (byte)'8' and <= (byte)'f'
                && ((raw[at + 1] | 0x20) <= '9' || (raw[at + 1] | 0x20) >= 'a'))
                return true;
        }
    }

    private static ApiException Refuse(List<string> path, string what)
    {
        string field = string.Concat(path).TrimStart('.');
        return ApiException.BadRequest(field.Length == 0
            ? $"The request body is a string with {what}; strings must be Unicode text."
            : $"'{field}' holds {what}; strings must be Unicode text.", field.Length == 0 ? null : field);
    }
}
