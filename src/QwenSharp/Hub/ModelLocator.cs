namespace QwenSharp.Hub;

/// <summary>How a `--model` value is read, before anything is looked up (see <see cref="ModelLocator.Interpret"/>).</summary>
/// <param name="Source">which kind of place names the model</param>
/// <param name="Path">the full path, for <see cref="ModelSource.LocalPath"/></param>
/// <param name="Repo">the repo, for Hugging Face and ModelScope names (and hf.co/… Ollama names, tried on the Hub when Ollama lacks them)</param>
/// <param name="Ollama">the Ollama name, for <see cref="ModelSource.Ollama"/></param>
public sealed record ModelQuery(string Text, ModelSource Source, string? Path, RepoName? Repo, OllamaName? Ollama);

/// <summary>
/// Turns a `--model` value into local files. The order (issue 7): an existing path (folder or GGUF file) as
/// is; `modelscope:org/name` from ModelScope; `org/name[@revision][:pattern]` (one '/') a Hugging Face repo,
/// from huggingface_hub's cache or downloaded into it; anything else an Ollama name (`qwen2:7b`,
/// `qwen2` = `qwen2:latest`, `hf.co/org/repo:quant`) read from Ollama's store — a library name it lacks is
/// pulled from Ollama's registry into the store, an hf.co name it lacks is fetched from the Hub. No value: QWENSHARP_MODEL, else <see cref="HubOptions.DefaultModel"/>.
/// </summary>
public static class ModelLocator
{
    /// <summary>The one entry point commands use: `await ModelLocator.LocateAsync(args.Get("--model"),
    /// HubOptions.FromEnvironment(), DownloadProgressPrinter.ForConsoleError(), ct)`.</summary>
    public static async Task<LocatedModel> LocateAsync(string? model, HubOptions options,
        IProgress<DownloadProgress>? progress = null, CancellationToken ct = default)
    {
        var query = Interpret(string.IsNullOrWhiteSpace(model) ? options.FallbackModel : model, options);
        switch (query.Source)
        {
            case ModelSource.LocalPath:
                return LocateLocal(query);
            case ModelSource.ModelScope:
                return await ModelScopeFetcher.FetchAsync(query.Repo!, options, progress, ct).ConfigureAwait(false);
            case ModelSource.HuggingFace:
                return await HfModelFetcher.FetchAsync(query.Repo!, options, progress, ct).ConfigureAwait(false);
            default:
                var looked = new List<string>();
                if (OllamaStore.TryLocate(query.Ollama!, options.OllamaModelDirs, looked) is { } found) return found;
                if (query.Repo != null)
                    return await HfModelFetcher.FetchAsync(query.Repo, options, progress, ct).ConfigureAwait(false);
                // Like `ollama run`, a name from Ollama's own registry missing from the store is pulled into it.
                bool pull = !options.Offline && query.Ollama!.Host == OllamaName.DefaultHost && options.OllamaModelDirs.Count > 0;
                if (!pull) throw new HubException(NothingFound(query, looked, options.Offline));
                LocatedModel? pulled;
                try
                {
                    pulled = await OllamaRegistry.PullAsync(query.Ollama!, options.OllamaModelDirs[0], options, progress, ct).ConfigureAwait(false);
                }
                catch (HubException e)
                {
                    throw new HubException(NothingFound(query, looked, false) + " Pulling it from Ollama's registry failed: " + e.Message, e);
                }
                return pulled ?? throw new HubException(NothingFound(query, looked, false) + $" Ollama's registry ({options.OllamaRegistryEndpoint}) has no {query.Ollama} either.");
        }
    }

    /// <summary>The same for synchronous callers (a command's Run), with progress lines on stderr.</summary>
    public static LocatedModel Locate(string? model, HubOptions? options = null, IProgress<DownloadProgress>? progress = null) =>
        LocateAsync(model, options ?? HubOptions.FromEnvironment(), progress ?? DownloadProgressPrinter.ForConsoleError())
            .GetAwaiter().GetResult();

    /// <summary>Classifies a `--model` value; touches the file system only to see whether it is an existing path.</summary>
    public static ModelQuery Interpret(string text, HubOptions options)
    {
        string value = text.Trim();
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string expanded = HubOptions.Expand(value, home)!;
        if (File.Exists(expanded) || Directory.Exists(expanded))
            return new ModelQuery(value, ModelSource.LocalPath, System.IO.Path.GetFullPath(expanded), null, null);
        if (LooksLikePath(value))
            throw new HubException($"No file or folder {System.IO.Path.GetFullPath(expanded)}; give the path of a model folder or a .gguf file, a Hugging Face repo such as {HubOptions.DefaultModel}, or an Ollama name such as qwen2:7b.");

        const string ms = "modelscope:";
        if (value.StartsWith(ms, StringComparison.OrdinalIgnoreCase))
            return new ModelQuery(value, ModelSource.ModelScope, null, RepoName.Parse(value[ms.Length..]), null);

        // Slashes of the name itself: a revision such as refs/pr/1 may add more.
        int slashes = value.TakeWhile(c => c is not ('@' or ':')).Count(c => c == '/');
        foreach (string host in new[] { "hf.co/", "huggingface.co/" })
        {
            if (!value.StartsWith(host, StringComparison.OrdinalIgnoreCase) || slashes != 2) continue;
            // Ollama stores `ollama pull hf.co/org/repo:quant` under manifests/hf.co/org/repo/quant; when it has
            // not, the same name is a Hub repo with a file pattern (Ollama's default tag "latest" means none).
            var ollama = OllamaName.Parse(value);
            var repo = RepoName.Parse(value[host.Length..]);
            if (repo.Pattern is { } p && p.Equals("latest", StringComparison.OrdinalIgnoreCase)) repo = repo with { Pattern = null };
            return new ModelQuery(value, ModelSource.Ollama, null, repo, ollama);
        }
        if (slashes == 1) return new ModelQuery(value, ModelSource.HuggingFace, null, RepoName.Parse(value), null);
        return new ModelQuery(value, ModelSource.Ollama, null, null, OllamaName.Parse(value));
    }

    private static bool LooksLikePath(string value) =>
        value.StartsWith('/') || value.StartsWith("./", StringComparison.Ordinal) || value.StartsWith("../", StringComparison.Ordinal)
        || value.StartsWith('~') || value.StartsWith('.') || value.Contains('\\')
        || (value.Length >= 2 && value[1] == ':' && char.IsAsciiLetter(value[0]) && (value.Length == 2 || value[2] is '/' or '\\'))
        || value.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) || value.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);

    private static LocatedModel LocateLocal(ModelQuery query)
    {
        string path = query.Path!;
        bool isFile = File.Exists(path);
        if (isFile && !HasGgufMagic(path))
            throw new HubException($"{path} is a file but not a GGUF file (no 'GGUF' magic); give a .gguf file or the folder holding config.json and the safetensors weights.");
        return new LocatedModel { Path = path, IsGguf = isFile, Source = ModelSource.LocalPath, Name = query.Text };
    }

    private static bool HasGgufMagic(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using var f = File.OpenRead(path);
        return f.Read(magic) == 4 && magic.SequenceEqual("GGUF"u8);
    }

    private static string NothingFound(ModelQuery query, List<string> looked, bool offline)
    {
        string where = looked.Count == 0 ? "no Ollama store is configured" : "looked at " + string.Join(", ", looked);
        string todo = offline ? "unset HF_HUB_OFFLINE to pull it, or name a cached model" : "check the name and tag at https://ollama.com/library, or name a Hugging Face repo";
        return $"'{query.Text}' is not a file or folder here, not a Hugging Face repo (those are org/name, such as {HubOptions.DefaultModel}), "
            + $"and Ollama's store has no model {query.Ollama} ({where}); {todo}.";
    }
}
