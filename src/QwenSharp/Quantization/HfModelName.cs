using System.Globalization;
using System.Text.RegularExpressions;

namespace QwenSharp.Quantization;

/// <summary>
/// The <c>general.name</c>, <c>basename</c>, <c>finetune</c>, <c>version</c> and <c>size_label</c> llama.cpp's
/// converter derives from a model id or folder name ("Qwen2.5-0.5B-Instruct" → name "Qwen2.5 0.5B Instruct",
/// basename "Qwen2.5", size label "0.5B", finetune "Instruct"): gguf-py's Metadata.get_model_id_components and
/// id_to_title, and utility.size_label for a model without experts.
/// </summary>
public sealed record HfModelName(string Name, string? Organization, string? Basename, string? Finetune, string? Version, string? SizeLabel)
{
    private static readonly Regex VersionPart = new(@"^(v|iter)?\d+([.]\d+)*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    private static readonly Regex TypePart = new(@"^(i?q\d(_\w)*|b?fp?(16|32))$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    private static readonly Regex SizePart = new(@"^(([A]|\d+[x])?\d+([._]\d+)?[KMBT][\d]?|small|mini|medium|large|x?xl)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    private static readonly Regex ActiveSizePart = new(@"^A\d+([._]\d+)?[KMBT][\d]?$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    private static readonly Regex FinetunePart = new(@"^(chat|instruct|vision|lora)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    private static readonly Regex VersionOrNumber = new(@"^(v\d+(?:\.\d+)*|\d.*)$", RegexOptions.CultureInvariant);

    /// <summary>
    /// The name of a converted folder as apply_metadata_heuristic finds it (no model card): config.json's
    /// <c>_name_or_path</c> when it is a model id (at most one '/'), each component still missing from the folder's
    /// own name, and the size label from the parameter count when neither has one.
    /// </summary>
    public static HfModelName ForFolder(string folder, string? nameOrPath, long totalParams)
    {
        var fromFolder = Parse(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))), totalParams);
        var fromId = nameOrPath != null && nameOrPath.Count(c => c == '/') <= 1 ? Parse(nameOrPath, totalParams) : null;
        string? org = fromId?.Organization ?? fromFolder.Organization;
        return new HfModelName(
            Title(fromId?.Name ?? fromFolder.Name),
            org == null ? null : Title(org),
            fromId?.Basename ?? fromFolder.Basename,
            fromId?.Finetune ?? fromFolder.Finetune,
            fromId?.Version ?? fromFolder.Version,
            fromId?.SizeLabel ?? fromFolder.SizeLabel ?? (totalParams > 0 ? SizeLabelOf(totalParams) : null));
    }

    /// <summary>The components of <paramref name="modelId"/> ("org/name" or a folder name) for a model of
    /// <paramref name="totalParams"/> parameters, as get_model_id_components returns them: the name and organization
    /// as written (not title-cased).</summary>
    public static HfModelName Parse(string modelId, long totalParams)
    {
        string? org = null;
        string full = modelId;
        if (!modelId.Contains(' '))
        {
            int slash = modelId.IndexOf('/');
            if (slash >= 0) { org = modelId[..slash]; full = modelId[(slash + 1)..]; }
            if (org is { Length: > 0 } && org[0] == '.') org = null;
        }
        var (basename, finetune, version, size) = modelId.Contains(' ') ? (null, null, null, null) : Components(full, totalParams);
        return new HfModelName(full, org, basename, finetune, version, size);
    }

    private static (string?, string?, string?, string?) Components(string full, long totalParams)
    {
        var parts = full.Split('-').Where(p => p.Length > 0).ToList();
        var kinds = parts.Select(_ => new HashSet<string>()).ToList();
        for (int i = 0; i < parts.Count; i++)
        {
            string part = parts[i];
            if (VersionPart.IsMatch(part)) kinds[i].Add("version");
            else if (TypePart.IsMatch(part)) { kinds[i].Add("type"); parts[i] = part.ToUpperInvariant(); }
            else if (i > 0 && SizePart.IsMatch(part))
            {
                part = NormalizeSize(part);
                if (totalParams != 0 && TryLabelParams(part, out double labelParams))
                {
                    string? next = i + 1 < parts.Count ? NormalizeSize(parts[i + 1]) : null;
                    // A total followed by its active count (26B-A4B) stays a size label.
                    bool followedByActive = next != null && ActiveSizePart.IsMatch(next) && TryLabelParams(next[1..], out double active)
                        && Math.Abs(active - Math.Abs(totalParams)) <= 7 * Math.Abs(totalParams) / 8;
                    // Far from the model's size, it is likely a context length: a finetune, lower-cased.
                    if (!followedByActive && ((totalParams < 0 && labelParams < Math.Abs(totalParams) / 8)
                            || (totalParams > 0 && Math.Abs(labelParams - totalParams) > 7 * totalParams / 8)))
                    {
                        kinds[i].Add("finetune");
                        part = part[..^1] + char.ToLowerInvariant(part[^1]);
                    }
                }
                if (kinds[i].Count == 0) kinds[i].Add("size_label");
                parts[i] = part;
            }
            else if (i > 0 && FinetunePart.IsMatch(part)) kinds[i].Add("finetune");
        }

        // Word sizes (small, large) give way when a numeric size label is present.
        if (Enumerable.Range(0, parts.Count).Any(i => kinds[i].Contains("size_label") && parts[i].Any(char.IsAsciiDigit)))
            for (int i = 0; i < parts.Count; i++)
                if (kinds[i].Contains("size_label") && parts[i].All(char.IsLetter)) kinds[i].Remove("size_label");

        bool atStart = true;
        for (int i = 0; i < parts.Count; i++)
        {
            if (atStart && ((kinds[i].Count == 0 && char.IsLetter(parts[i][0])) || kinds[i].Contains("version")))
                kinds[i].Add("basename");
            else
            {
                atStart = false;
                if (kinds[i].Count == 0) kinds[i].Add("finetune");
            }
        }
        // A trailing version is not part of the basename.
        for (int i = parts.Count - 1; i >= 0; i--)
        {
            if (kinds[i].Contains("basename") && kinds[i].Count > 1) kinds[i].Remove("basename");
            else break;
        }

        string? Join(Func<int, bool> pick) =>
            Enumerable.Range(0, parts.Count).Where(pick).Select(i => parts[i]).ToList() is { Count: > 0 } l ? string.Join("-", l) : null;
        string? basename = Join(i => kinds[i].Contains("basename"));
        string? size = Join(i => kinds[i].Contains("size_label") && Enumerable.Range(0, i).All(j => !(kinds[j].Contains("size_label") && parts[j] == parts[i])));
        string? finetune = Join(i => kinds[i].Contains("finetune"));
        string? version = Join(i => kinds[i].Contains("version") && !kinds[i].Contains("basename"));
        if (size == null && finetune == null && version == null) basename = null; // too ambiguous
        return (basename, finetune, version, size);
    }

    /// <summary>bloom-7b1 → 7.1B; 0.5b → 0.5B.</summary>
    private static string NormalizeSize(string label)
    {
        label = label.Replace('_', '.');
        if (char.IsAsciiDigit(label[^1]) && label.Length >= 2) label = label[..^2] + "." + label[^1] + label[^2];
        if (label.Length > 1 && char.IsAsciiDigit(label[^2]) && "kmbt".Contains(label[^1])) label = label[..^1] + char.ToUpperInvariant(label[^1]);
        return label;
    }

    private static bool TryLabelParams(string label, out double value)
    {
        value = 0;
        int scale = " KMBT".IndexOf(label[^1]);
        if (scale < 0 || !double.TryParse(label[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double n)) return false;
        value = n * Math.Pow(1000, scale);
        return true;
    }

    /// <summary>id_to_title: words split on '-' and spaces, each all-lower-case word title-cased unless it is a
    /// version or starts with a digit.</summary>
    public static string Title(string id) => string.Join(' ', id.Trim().Replace('-', ' ')
        .Split(' ', StringSplitOptions.RemoveEmptyEntries)
        .Select(w => IsLower(w) && !VersionOrNumber.IsMatch(w) ? TitleCase(w) : w));

    // Python's str.islower: some cased character and none upper-case.
    private static bool IsLower(string w) => w.Any(char.IsLetter) && !w.Any(char.IsUpper);

    // Python's str.title: a letter after a non-letter is upper-cased, every other letter lower-cased.
    private static string TitleCase(string w)
    {
        var chars = w.ToCharArray();
        bool previousCased = false;
        for (int i = 0; i < chars.Length; i++)
        {
            bool letter = char.IsLetter(chars[i]);
            chars[i] = letter ? (previousCased ? char.ToLowerInvariant(chars[i]) : char.ToUpperInvariant(chars[i])) : chars[i];
            previousCased = letter;
        }
        return new string(chars);
    }

    /// <summary>gguf-py's model_weight_count_rounded_notation with two significant digits at least: 494032768 →
    /// "494M", 1543714304 → "1.5B", 1253568 → "1.3M".</summary>
    public static string SizeLabelOf(long totalParams)
    {
        double count = Math.Abs(totalParams);
        var (scaled, suffix) = count > 1e12 ? (count * 1e-12, "T") : count > 1e9 ? (count * 1e-9, "B") : count > 1e6 ? (count * 1e-6, "M") : (count * 1e-3, "K");
        // Python's round() rounds half to even, as Math.Round does by default.
        int digits = Math.Round(scaled).ToString(CultureInfo.InvariantCulture).TrimStart('0').Length;
        int fix = Math.Max(2 - digits, 0);
        return scaled.ToString("F" + fix, CultureInfo.InvariantCulture) + suffix;
    }
}
