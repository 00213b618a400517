namespace QwenSharp.Hub;

/// <summary>
/// Where models are looked for and fetched from. <see cref="FromEnvironment"/> reads the same variables as
/// Python's huggingface_hub (HF_HUB_CACHE, HF_HOME, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE), Ollama
/// (OLLAMA_MODELS) and the ModelScope SDK (MODELSCOPE_CACHE, MODELSCOPE_ENDPOINT), so a model either tool
/// already has is found where it put it. Tests build one with <see cref="FromVariables"/> instead of
/// touching the process environment.
/// </summary>
public sealed record HubOptions
{
    /// <summary>The card's model in the form its page ships: used when neither --model nor QWENSHARP_MODEL is given.</summary>
    public const string DefaultModel = "Qwen/Qwen2-7B-Instruct-GGUF:q4_k_m";

    /// <summary>huggingface_hub's cache folder (the one holding models--org--name folders).</summary>
    public required string HfCacheDir { get; init; }

    /// <summary>Base URL of the Hub or a mirror, without trailing slash (HF_ENDPOINT).</summary>
    public string HfEndpoint { get; init; } = "https://huggingface.co";

    /// <summary>Bearer token for gated or private repos (HF_TOKEN, or the file `huggingface-cli login` writes).</summary>
    public string? HfToken { get; init; }

    /// <summary>HF_HUB_OFFLINE: use caches only and never open a connection.</summary>
    public bool Offline { get; init; }

    /// <summary>Ollama model stores to read, first match wins ($OLLAMA_MODELS, else ~/.ollama/models and the Linux service's store).</summary>
    public IReadOnlyList<string> OllamaModelDirs { get; init; } = [];

    public string ModelScopeEndpoint { get; init; } = "https://www.modelscope.cn";

    /// <summary>Ollama's registry, for library names missing from the store (`ollama pull`'s source).</summary>
    public string OllamaRegistryEndpoint { get; init; } = "https://registry.ollama.ai";

    /// <summary>The ModelScope SDK's cache root (MODELSCOPE_CACHE, else ~/.cache/modelscope/hub).</summary>
    public required string ModelScopeCacheDir { get; init; }

    /// <summary>The model used when the caller passes none (QWENSHARP_MODEL, else <see cref="DefaultModel"/>).</summary>
    public string FallbackModel { get; init; } = DefaultModel;

    /// <summary>When true a cached repo is checked against the server for a newer commit (what `pull` does);
    /// when false a complete cached snapshot is used without any network access.</summary>
    public bool CheckForUpdates { get; init; }

    /// <summary>How many times a broken transfer is resumed with a Range request before giving up
    /// (huggingface_hub retries 5 times).</summary>
    public int DownloadRetries { get; init; } = 5;

    /// <summary>A transfer that receives nothing for this long is treated as broken and resumed.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Optional client for tests or proxies; it must not follow redirects itself (the downloader does,
    /// dropping the token when the host changes).</summary>
    public HttpClient? HttpClient { get; init; }

    public static HubOptions FromEnvironment() =>
        FromVariables(Environment.GetEnvironmentVariable, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    /// <summary>Builds options from variables read through <paramref name="getVariable"/>, with <paramref name="home"/>
    /// standing for the user's home folder. Defaults follow huggingface_hub's constants.py:
    /// HF_HUB_CACHE, else HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.</summary>
    public static HubOptions FromVariables(Func<string, string?> getVariable, string home)
    {
        string? Var(string name) => getVariable(name) is { Length: > 0 } v ? v : null;
        string xdgCache = Var("XDG_CACHE_HOME") ?? Path.Combine(home, ".cache");
        string hfHome = Expand(Var("HF_HOME"), home) ?? Path.Combine(xdgCache, "huggingface");
        string hubCache = Expand(Var("HF_HUB_CACHE") ?? Var("HUGGINGFACE_HUB_CACHE"), home) ?? Path.Combine(hfHome, "hub");

        string? token = Var("HF_TOKEN") ?? Var("HUGGING_FACE_HUB_TOKEN");
        if (token == null)
        {
            // `huggingface-cli login` stores the token in plain text at $HF_HOME/token (HF_TOKEN_PATH overrides).
            string tokenPath = Expand(Var("HF_TOKEN_PATH"), home) ?? Path.Combine(hfHome, "token");
            try
            {
                if (File.Exists(tokenPath)) token = File.ReadAllText(tokenPath).Trim() is { Length: > 0 } t ? t : null;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }

        var ollama = new List<string>();
        if (Expand(Var("OLLAMA_MODELS"), home) is { } ollamaModels) ollama.Add(ollamaModels);
        else
        {
            ollama.Add(Path.Combine(home, ".ollama", "models"));
            // The Linux install script runs Ollama as its own user, whose store is here.
            if (OperatingSystem.IsLinux()) ollama.Add("/usr/share/ollama/.ollama/models");
        }

        return new HubOptions
        {
            HfCacheDir = hubCache,
            HfEndpoint = (Var("HF_ENDPOINT") ?? "https://huggingface.co").TrimEnd('/'),
            HfToken = token,
            Offline = IsTrue(Var("HF_HUB_OFFLINE")),
            OllamaModelDirs = ollama,
            ModelScopeEndpoint = (Var("MODELSCOPE_ENDPOINT") ?? "https://www.modelscope.cn").TrimEnd('/'),
            ModelScopeCacheDir = Expand(Var("MODELSCOPE_CACHE"), home) ?? Path.Combine(home, ".cache", "modelscope", "hub"),
            FallbackModel = Var("QWENSHARP_MODEL") ?? DefaultModel,
        };
    }

    // huggingface_hub's ENV_VARS_TRUE_VALUES.
    private static bool IsTrue(string? value) => value?.ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";

    internal static string? Expand(string? path, string home)
    {
        if (path == null) return null;
        if (path == "~") return home;
        if (path.StartsWith("~/", StringComparison.Ordinal)) return Path.Combine(home, path[2..]);
        return path;
    }
}
