using QwenSharp.Hub;

namespace QwenSharp.Cli.Commands;

/// <summary>`qwensharp pull &lt;model&gt;`: fetches a model into its cache (checking the Hub for a newer commit even
/// when a snapshot is cached) and prints where it is, so later commands start without downloading.</summary>
public sealed class PullCommand : ICliCommand
{
    public string Name => "pull";
    public string Summary => "Download a model from Hugging Face or ModelScope into the local cache";
    public IReadOnlyList<string> Flags => ["--quiet"];

    public string Usage => """
        Usage: qwensharp pull [<model>] [--quiet]

          <model>   Qwen/Qwen2-7B-Instruct            a Hugging Face repo (safetensors folder)
                    Qwen/Qwen2-7B-Instruct-GGUF:q4_k_m one GGUF file of a repo, matched case-insensitively
                    Qwen/Qwen2-7B-Instruct@<revision>  a branch, tag or commit (default main)
                    modelscope:qwen/Qwen2-7B-Instruct  from ModelScope (MODELSCOPE_ENDPOINT, MODELSCOPE_CACHE)
                    qwen2:7b                           Ollama's store, pulled from its registry when missing
                    default: $QWENSHARP_MODEL, else Qwen/Qwen2-7B-Instruct-GGUF:q4_k_m
          --quiet   no progress lines

        Files go to huggingface_hub's cache ($HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub), usable
        by Python too. HF_ENDPOINT selects a mirror, HF_TOKEN opens gated repos, HF_HUB_OFFLINE=1 never
        touches the network. An interrupted download resumes where it stopped.
        """;

    public int Run(CliArgs args, TextWriter stdout, TextWriter stderr)
    {
        bool quiet = args.Flag("--quiet");
        var positional = args.Positional;
        args.EnsureAllUsed();
        if (positional.Count > 1) throw new CliException($"pull takes one model name, got {positional.Count}: {string.Join(" ", positional)}.");
        string? model = positional.Count == 1 ? positional[0] : null;

        var options = HubOptions.FromEnvironment() with { CheckForUpdates = true };
        bool terminal = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
        IProgress<DownloadProgress>? progress = quiet ? null : new DownloadProgressPrinter(stderr, terminal);
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            var located = ModelLocator.LocateAsync(model, options, progress, cancel.Token).GetAwaiter().GetResult();
            if (!quiet) stderr.WriteLine(located.Downloaded ? "Downloaded " + located.Describe() : "Up to date: " + located.Describe());
            if (located.Ollama is { } ollama)
            {
                stderr.WriteLine($"Ollama manifest: {ollama.ManifestPath}");
                if (ollama.Parameters != null) stderr.WriteLine($"Ollama params: {ollama.Parameters.ReplaceLineEndings(" ")}");
                if (ollama.System != null) stderr.WriteLine($"Ollama system prompt: {ollama.System.ReplaceLineEndings(" ")}");
                if (ollama.Template != null) stderr.WriteLine($"Ollama template: {ollama.Template.Length} characters");
            }
            stdout.WriteLine(located.Path);
            return 0;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            stderr.WriteLine("Interrupted; run the same command again to resume the download.");
            return 130;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
