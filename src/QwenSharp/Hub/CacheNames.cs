using System.Text;

namespace QwenSharp.Hub;

/// <summary>
/// The checks on names that become part of a path in a model cache: file names from a repo listing, revisions,
/// commit hashes, ETags and Ollama digests. They come from a server's answer or from a typed model name, so each
/// is checked here before a file or folder is made from it; a name that could leave its folder (a `..`
/// segment, an absolute path, a drive letter, a backslash, which Windows reads as a separator) or that no file
/// system stores (NUL and other control characters) is refused with a sentence naming it.
/// </summary>
public static class CacheNames
{
    /// <summary>A '/'-separated path inside a repo or its cache folder, such as `model.safetensors`,
    /// `sub/tokenizer.json` or the revision `refs/pr/1`; returns it unchanged.</summary>
    /// <param name="what">the name's role for the message, e.g. "the file name"</param>
    /// <param name="source">where it came from, e.g. "that https://huggingface.co listed for Qwen/Qwen2-7B"</param>
    public static string RelativePath(string value, string what, string source)
    {
        if (value.Length == 0) throw Refused(what, value, source, "is empty");
        if (ControlCharacter(value) is { } reason) throw Refused(what, value, source, reason);
        if (value.Contains('\\')) throw Refused(what, value, source, "has a backslash, which Windows reads as a folder separator; paths in a repo use '/'");
        if (value[0] == '/') throw Refused(what, value, source, "is an absolute path; it must be relative to its folder");
        if (value.Length >= 2 && value[1] == ':' && char.IsAsciiLetter(value[0]))
            throw Refused(what, value, source, "starts with a drive letter; it must be relative to its folder");
        foreach (string segment in value.Split('/'))
        {
            if (segment.Length == 0) throw Refused(what, value, source, "has an empty segment ('//' or a trailing '/')");
            if (segment.All(c => c == '.')) throw Refused(what, value, source, $"has a '{segment}' segment; it must stay inside its folder");
        }
        return value;
    }

    /// <summary>One file name, no folders: a blob named by its ETag. Returns it unchanged.</summary>
    public static string FileName(string value, string what, string source)
    {
        if (value.Contains('/')) throw Refused(what, value, source, "has a '/'; it must be a single file name");
        return RelativePath(value, what, source);
    }

    /// <summary>A git commit hash as the Hub's cache names snapshot folders: exactly 40 lowercase hex digits.</summary>
    public static string CommitHash(string value, string what, string source) =>
        value.Length == 40 && value.All(char.IsAsciiHexDigitLower) ? value
            : throw Refused(what, value, source, "is not a commit hash of 40 lowercase hex digits");

    /// <summary>An OCI content digest as Ollama names its blobs: `sha256:` and 64 lowercase hex digits.</summary>
    public static string Sha256Digest(string value, string what, string source) =>
        value.Length == 71 && value.StartsWith("sha256:", StringComparison.Ordinal) && value[7..].All(char.IsAsciiHexDigitLower) ? value
            : throw Refused(what, value, source, "is not a digest of the form sha256:<64 lowercase hex digits>");

    private static string? ControlCharacter(string value)
    {
        foreach (char c in value)
            if (char.IsControl(c))
                return c == '\0' ? "has a NUL character" : $"has the control character U+{(int)c:X4}";
        return null;
    }

    private static HubException Refused(string what, string value, string source, string reason) =>
        new($"Refusing {what} '{Shown(value)}' {source}: it {reason}. Nothing was written for it.");

    /// <summary>The value as it can be printed on one line: control characters as \uXXXX, at most 200 characters.</summary>
    public static string Shown(string value)
    {
        var sb = new StringBuilder();
        foreach (char c in value.Length > 200 ? value[..200] : value)
            sb.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c);
        if (value.Length > 200) sb.Append('…');
        return sb.ToString();
    }
}
