using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using QwenSharp.Server;
using QwenSharp.Server.Backend;

namespace QwenSharp.Cli.Commands;

/// <summary>
/// `qwensharp serve`: a drop-in for `python -m vllm.entrypoints.openai.api_server` (same flags, same routes),
/// with Ollama's API beside it. Ctrl+C or SIGTERM stops it gracefully: in-flight generations are cancelled and
/// their clients told why.
/// </summary>
public sealed class ServeCommand : ICliCommand
{
    public string Name => "serve";
    public string Summary => "Serve a model over an OpenAI-compatible (vLLM-style) and Ollama HTTP API";
    public IReadOnlyList<string> Flags => [];

    public string Usage => """
        qwensharp serve --model <folder|file.gguf|hub name> [options]
          --host H                 address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
          --port P                 port (default 8000)
          --served-model-name N    name(s) clients use for the model (repeatable; default: the --model value)
          --api-key K              require 'Authorization: Bearer K' on every route but /health (or QWENSHARP_API_KEY)
          --max-model-len L        context length per sequence (default: the model's)
          --max-num-seqs S         sequences run together per step (default: the engine's)
          --chat-template F        a Jinja chat template file replacing the model's own
          --generation-config M    'auto' (sampling defaults from generation_config.json) or 'vllm' (vLLM's defaults)
          --allowed-origins O      enable CORS for these origins (repeatable, comma list or JSON list; '*' for any)
        Routes: /v1/chat/completions, /v1/completions, /v1/models, /tokenize, /detokenize, /health, /version,
        /metrics, and Ollama's /api/chat, /api/generate, /api/tags, /api/show, /api/version.
        """;

    public int Run(CliArgs args, TextWriter stdout, TextWriter stderr)
    {
        var options = ReadOptions(args);
        var backend = ModelBackendFactory.Create(options);
        var app = QwenServer.Build(options, backend);
        app.Lifetime.ApplicationStarted.Register(() =>
            stdout.WriteLine($"Serving {string.Join(", ", options.ServedModelNames.DefaultIfEmpty(backend.ModelName))} " +
                $"(max model length {backend.MaxModelLength}) on {string.Join(", ", app.Urls)}"));
        try
        {
            app.Run();
        }
        finally
        {
            (backend as IDisposable)?.Dispose();
        }
        return 0;
    }

    /// <summary>The command line → <see cref="ServerOptions"/>, refusing unknown options and bad values.</summary>
    public static ServerOptions ReadOptions(CliArgs args)
    {
        string model = args.Get("--model") ?? args.Positional.FirstOrDefault()
            ?? throw new CliException("Option --model is required (a model folder, a .gguf file or a hub name).");
        string host = args.Get("--host") ?? "127.0.0.1";
        int port = args.GetInt("--port", 8000, 0, 65535);
        var names = args.GetAll("--served-model-name").SelectMany(SplitList).ToList();
        string? apiKey = args.Get("--api-key") ?? Environment.GetEnvironmentVariable("QWENSHARP_API_KEY");
        int maxModelLen = args.GetInt("--max-model-len", 0, 1);
        int maxNumSeqs = args.GetInt("--max-num-seqs", 0, 1, 4096);
        string? chatTemplate = args.Get("--chat-template");
        if (chatTemplate != null && !File.Exists(chatTemplate))
            throw new CliException($"Chat template file '{chatTemplate}' does not exist.");
        string generationConfig = args.Get("--generation-config") ?? "auto";
        if (generationConfig is not ("auto" or "vllm"))
            throw new CliException($"Option --generation-config must be 'auto' or 'vllm', got '{generationConfig}'.");
        var origins = args.GetAll("--allowed-origins").SelectMany(SplitList).ToList();
        args.EnsureAllUsed();
        if (string.IsNullOrEmpty(apiKey) && apiKey != null)
            throw new CliException("Option --api-key must not be empty.");
        return new ServerOptions
        {
            Model = model,
            Host = host,
            Port = port,
            ServedModelNames = names,
            ApiKey = apiKey,
            MaxModelLen = maxModelLen > 0 ? maxModelLen : null,
            MaxNumSeqs = maxNumSeqs > 0 ? maxNumSeqs : null,
            ChatTemplate = chatTemplate,
            GenerationConfig = generationConfig,
            AllowedOrigins = origins,
        };
    }

    /// <summary>"a,b", or a JSON list as vLLM takes for --allowed-origins ('["*"]').</summary>
    private static IEnumerable<string> SplitList(string value)
    {
        string v = value.Trim();
        if (v.StartsWith('['))
        {
            try { return JsonSerializer.Deserialize<string[]>(v) ?? []; }
            catch (JsonException) { throw new CliException($"'{value}' is not a JSON list of strings."); }
        }
        return v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }
}
