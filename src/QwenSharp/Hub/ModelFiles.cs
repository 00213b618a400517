using System.Text.Json;
using System.Text.RegularExpressions;

namespace QwenSharp.Hub;

/// <summary>The files of a repo that a model needs: either one GGUF (or one split GGUF set), or a
/// safetensors folder's config, tokenizer and weights.</summary>
/// <param name="Files">repo-relative paths ('/' separated) to fetch, in download order</param>
/// <param name="Gguf">the GGUF file to load (the first part of a split set), or null for a safetensors folder</param>
/// <param name="WeightIndex">"model.safetensors.index.json" when the weights are sharded: its shards are added
/// once it has been read, see <see cref="ModelFiles.ShardsFromIndex"/></param>
public sealed record ModelFileSelection(IReadOnlyList<string> Files, string? Gguf, string? WeightIndex);

/// <summary>
/// Chooses what to fetch from a repo's file list, and checks whether a local snapshot holds it all. A
/// `:pattern` picks a .gguf file case-insensitively, the way Ollama and llama.cpp's `-hf repo:quant` do:
/// `q4_k_m` matches `qwen2-7b-instruct-q4_k_m.gguf`; the pattern must stand between separators ('-', '_', '.',
/// '/') so `q4_k` does not silently pick `q4_k_m`; `*` and `?` make it a glob over the whole path.
/// </summary>
public static partial class ModelFiles
{
    /// <summary>Small files a safetensors model folder needs besides its weights (those present are fetched).</summary>
    public static readonly IReadOnlyList<string> FolderFiles =
    [
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "vocab.json",
        "merges.txt", "chat_template.jinja", "chat_template.json", "special_tokens_map.json",
    ];

    public const string IndexFile = "model.safetensors.index.json";

    // llama.cpp's gguf-split naming: <prefix>-00001-of-00003.gguf
    [GeneratedRegex(@"^(?<prefix>.*)-(?<part>\d{5})-of-(?<count>\d{5})\.gguf$", RegexOptions.IgnoreCase)]
    private static partial Regex SplitRegex();

    /// <summary>Picks the files for <paramref name="pattern"/> (or, with none, the safetensors folder, else the
    /// repo's only GGUF, else its Q4_K_M) from <paramref name="files"/>; throws a <see cref="HubException"/> that
    /// lists the candidates when nothing or several things match.</summary>
    public static ModelFileSelection Select(string repo, IReadOnlyList<string> files, string? pattern)
    {
        var groups = GgufGroups(files);
        if (pattern != null)
        {
            var matches = groups.Where(g => g.Any(f => Matches(f, pattern))).ToList();
            if (matches.Count == 0 && !HasWildcard(pattern))
                matches = groups.Where(g => g.Any(f => f.Contains(pattern, StringComparison.OrdinalIgnoreCase))).ToList();
            if (matches.Count == 1) return Gguf(matches[0]);
            if (groups.Count == 0)
                throw new HubException($"{repo} has no .gguf files to match ':{pattern}'; drop the ':{pattern}' to use its safetensors weights, or pick a GGUF repo.");
            if (matches.Count == 0)
                throw new HubException($"No .gguf file in {repo} matches '{pattern}'; its .gguf files are: {List(groups)}.");
            throw new HubException($"'{pattern}' matches several .gguf files in {repo}: {List(matches)}; write more of the name.");
        }

        bool hasConfig = files.Contains("config.json");
        var safetensors = files.Where(f => !f.Contains('/') && f.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)).ToList();
        if (hasConfig && (safetensors.Count > 0 || files.Contains(IndexFile)))
        {
            var wanted = FolderFiles.Where(files.Contains).ToList();
            if (files.Contains(IndexFile))
            {
                wanted.Add(IndexFile);
                return new ModelFileSelection(wanted, null, IndexFile);
            }
            wanted.AddRange(safetensors.Order(StringComparer.Ordinal));
            return new ModelFileSelection(wanted, null, null);
        }

        // Vision projectors (mmproj) sit beside the language model in some GGUF repos; they are not a model.
        var models = groups.Where(g => !g[0].Contains("mmproj", StringComparison.OrdinalIgnoreCase)).ToList();
        if (models.Count == 1) return Gguf(models[0]);
        // Ollama's default for hf.co GGUF repos without a tag is Q4_K_M; the card ships the same.
        var q4km = models.Where(g => Matches(g[0], "q4_k_m")).ToList();
        if (q4km.Count == 1) return Gguf(q4km[0]);
        if (models.Count > 1)
            throw new HubException($"{repo} holds several GGUF files: {List(models)}; add ':<quant>' to the name, e.g. {repo}:q4_k_m.");
        throw new HubException($"{repo} has neither config.json with .safetensors weights nor .gguf files, so it is not a model QwenSharp can load; its files are: {string.Join(", ", files.Take(20))}.");
    }

    /// <summary>The shard files named in a model.safetensors.index.json's weight_map, in order.</summary>
    public static IReadOnlyList<string> ShardsFromIndex(string indexPath)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new HubException($"{indexPath} has no weight_map object, so its shards are unknown.");
            return map.EnumerateObject().Select(p => p.Value.GetString() ?? "").Where(s => s.Length > 0)
                .Distinct().Order(StringComparer.Ordinal).ToList();
        }
        catch (JsonException e)
        {
            throw new HubException($"{indexPath} is not valid JSON ({e.Message}).", e);
        }
    }

    /// <summary>The selection if every file it needs is present under <paramref name="folder"/>, else null: how a
    /// cache is used without asking the server (broken snapshot links count as missing).</summary>
    public static ModelFileSelection? SelectComplete(string repo, string folder, string? pattern)
    {
        if (!Directory.Exists(folder)) return null;
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/'))
            .Where(f => !f.StartsWith('.') && !f.EndsWith(".incomplete", StringComparison.Ordinal))
            .Where(f => File.Exists(Path.Combine(folder, f)))
            .ToList();
        ModelFileSelection selection;
        try
        {
            selection = Select(repo, files, pattern);
        }
        catch (HubException)
        {
            return null;
        }
        if (!selection.Files.All(f => File.Exists(Path.Combine(folder, f)))) return null;
        if (selection.Gguf != null && SplitRegex().Match(selection.Gguf) is { Success: true } split
            && int.Parse(split.Groups["count"].Value, System.Globalization.CultureInfo.InvariantCulture) != selection.Files.Count)
            return null;
        if (selection.Gguf == null)
        {
            bool hasTokenizer = files.Contains("tokenizer.json") || (files.Contains("vocab.json") && files.Contains("merges.txt"));
            if (!hasTokenizer) return null;
            if (selection.WeightIndex != null)
            {
                IReadOnlyList<string> shards;
                try { shards = ShardsFromIndex(Path.Combine(folder, selection.WeightIndex)); }
                catch (HubException) { return null; }
                if (!shards.All(s => File.Exists(Path.Combine(folder, s)))) return null;
                return selection with { Files = selection.Files.Concat(shards).ToList() };
            }
        }
        return selection;
    }

    private static bool HasWildcard(string pattern) => pattern.Contains('*') || pattern.Contains('?');

    /// <summary>Whether <paramref name="path"/> matches a pattern: a glob when it has '*' or '?', else the pattern
    /// found between separators, case-insensitively.</summary>
    public static bool Matches(string path, string pattern)
    {
        if (HasWildcard(pattern))
        {
            string regex = "^" + Regex.Escape(pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + "$";
            return Regex.IsMatch(path, regex, RegexOptions.IgnoreCase) || Regex.IsMatch(Path.GetFileName(path), regex, RegexOptions.IgnoreCase);
        }
        for (int i = path.IndexOf(pattern, StringComparison.OrdinalIgnoreCase); i >= 0;
             i = path.IndexOf(pattern, i + 1, StringComparison.OrdinalIgnoreCase))
        {
            int end = i + pattern.Length;
            bool startOk = i == 0 || path[i - 1] is '-' or '_' or '.' or '/';
            bool endOk = end == path.Length || path[end] is '-' or '_' or '.' or '/';
            if (startOk && endOk) return true;
        }
        return false;
    }

    /// <summary>The .gguf files grouped so that the parts of one split set form one group, first part first.</summary>
    private static List<List<string>> GgufGroups(IReadOnlyList<string> files)
    {
        var groups = new List<List<string>>();
        var splits = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (string f in files.Where(f => f.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal))
        {
            var m = SplitRegex().Match(f);
            if (!m.Success) { groups.Add([f]); continue; }
            string key = m.Groups["prefix"].Value + "/" + m.Groups["count"].Value;
            if (!splits.TryGetValue(key, out var list)) { list = []; splits[key] = list; groups.Add(list); }
            list.Add(f);
        }
        return groups;
    }

    private static ModelFileSelection Gguf(List<string> group) => new(group, group[0], null);

    private static string List(List<List<string>> groups) =>
        string.Join(", ", groups.Select(g => g.Count == 1 ? g[0] : $"{g[0]} (+{g.Count - 1} parts)"));
}
