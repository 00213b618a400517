namespace QwenSharp.Formats;

/// <summary>
/// Where a model writer may write: never over one of its own inputs, however the two paths are spelled (relative,
/// with "..", or through symbolic links to the file or to a folder above it). A file is created with
/// FileMode.Create before the first byte is read, so writing over the input would truncate the memory-mapped
/// source under the reader.
/// </summary>
public static class OutputPath
{
    /// <summary>Refuses <paramref name="output"/> when it names <paramref name="input"/> (a file or a folder) or,
    /// for a folder, one of <paramref name="inputFiles"/> inside it.</summary>
    public static void EnsureNotInput(string input, string output, IEnumerable<string>? inputFiles = null)
    {
        string target = Resolve(output);
        if (SamePath(Resolve(input), target))
            throw new ArgumentException(Directory.Exists(input)
                ? $"The output {output} is the input folder; give the path of a .gguf file to write."
                : $"The output {output} is the input; write the model to another file.");
        foreach (string file in inputFiles ?? [])
            if (SamePath(Resolve(file), target))
                throw new ArgumentException($"The output {output} is the input file {file}; write the model to another file.");
    }

    /// <summary>The full path with every symbolic link along it followed, as far as the path exists.</summary>
    public static string Resolve(string path)
    {
        string full = Path.GetFullPath(path);
        string root = Path.GetPathRoot(full) ?? "";
        string resolved = root;
        var parts = full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < parts.Length; i++)
        {
            string next = Path.Combine(resolved, parts[i]);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.Exists && info.LinkTarget != null)
            {
                // A link's target may be relative to its folder and may itself contain links.
                var target = info.ResolveLinkTarget(returnFinalTarget: true);
                next = target == null ? next : Resolve(target.FullName);
            }
            resolved = next;
        }
        return resolved;
    }

    private static bool SamePath(string a, string b) =>
        string.Equals(a, b, OperatingSystem.IsLinux() ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase);
}
