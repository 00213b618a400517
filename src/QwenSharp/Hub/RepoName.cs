using System.Text.RegularExpressions;

namespace QwenSharp.Hub;

/// <summary>
/// A Hub or ModelScope repo as written on the command line: `org/name[@revision][:pattern]`, e.g.
/// `Qwen/Qwen2-7B-Instruct`, `Qwen/Qwen2-7B-Instruct@v1.0`, `Qwen/Qwen2-7B-Instruct-GGUF:q4_k_m`.
/// The pattern picks one .gguf file of a GGUF repo (see <see cref="ModelFiles"/>).
/// </summary>
public sealed partial record RepoName(string RepoId, string? Revision, string? Pattern)
{
    // The Hub's rule for repo ids (huggingface_hub validate_repo_id): letters, digits, '-', '_', '.', one '/'.
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}/[A-Za-z0-9_.\-]{1,96}$")]
    private static partial Regex RepoIdRegex();

    public static RepoName Parse(string text)
    {
        string rest = text.Trim();
        string? pattern = null, revision = null;
        int colon = rest.IndexOf(':');
        if (colon >= 0)
        {
            pattern = rest[(colon + 1)..];
            rest = rest[..colon];
            // Also accept the revision after the pattern: org/name:q4_k_m@rev.
            int at2 = pattern.IndexOf('@');
            if (at2 >= 0) { revision = pattern[(at2 + 1)..]; pattern = pattern[..at2]; }
        }
        int at = rest.IndexOf('@');
        if (at >= 0) { revision = rest[(at + 1)..]; rest = rest[..at]; }
        if (!RepoIdRegex().IsMatch(rest) || rest.Contains("--") || rest.Contains(".."))
            throw new HubException($"'{text}' is not a valid repo id: expected org/name with letters, digits, '-', '_' or '.', such as Qwen/Qwen2-7B-Instruct.");
        if (revision is { Length: 0 }) throw new HubException($"'{text}' has an empty revision after '@'.");
        // The revision names a file under refs/ in the cache (huggingface_hub allows '/', as in refs/pr/1).
        if (revision != null) CacheNames.RelativePath(revision, "the revision", $"in '{CacheNames.Shown(text)}'");
        if (pattern is { Length: 0 }) throw new HubException($"'{text}' has an empty file pattern after ':'.");
        return new RepoName(rest, revision, pattern);
    }

    public override string ToString() =>
        RepoId + (Revision != null ? "@" + Revision : "") + (Pattern != null ? ":" + Pattern : "");
}
