using System.Diagnostics;
using System.Globalization;
using QwenSharp.Model;

namespace QwenSharp.Cli.Commands;

/// <summary>`qwensharp perplexity`: llama.cpp's perplexity measure on a text or a token file.</summary>
public sealed class PerplexityCommand : ICliCommand
{
    public string Name => "perplexity";
    public string Summary => "Perplexity of a model on a text, as llama.cpp's perplexity tool computes it.";
    public IReadOnlyList<string> Flags => [];
    public string Usage => """
        qwensharp perplexity --model <m> (--file <text> | --tokens <ids file>) [--ctx 512] [--kv-cache-dtype T]
                             [--rope-scaling-mode M] [--threads N]
          --kv-cache-dtype: f16 (default), bf16, q8_0 or f32 (llama.cpp's -ctk/-ctv).
          --rope-scaling-mode: with YaRN in the config, length-aware (default: windows of --ctx within
          original_max_position_embeddings run with plain RoPE, longer ones with YaRN) or static (YaRN always).
          The tokens are cut into windows of --ctx, each evaluated from an empty cache; the second half of each
          window is scored. --tokens reads ids separated by spaces, commas or newlines.
        """;

    public int Run(CliArgs args, TextWriter stdout, TextWriter stderr)
    {
        string model = args.Required("--model", "-m");
        string? file = args.Get("--file", "-f");
        string? tokensFile = args.Get("--tokens");
        int ctx = args.GetInt("--ctx", 512, 4, 1 << 20, "-c");
        var kvType = KvCacheOption.Read(args);
        var ropeMode = RopeScalingOption.Read(args);
        int threads = args.GetInt("--threads", Environment.ProcessorCount, 1, 1024, "-t");
        args.EnsureAllUsed();
        if ((file == null) == (tokensFile == null))
            throw new CliException("Give exactly one of --file <text> and --tokens <ids file>.");

        Kernels.WorkerPool.SetSharedThreadCount(threads);
        string path = ModelPaths.Resolve(model);
        int[] tokens = tokensFile != null ? ReadTokenIds(tokensFile) : TextInput.Tokenize(model, File.ReadAllText(file!));
        int windows = Perplexity.Windows(tokens.Length, ctx);
        OneContextPlan.Make(path, ctx, kvType, "--ctx", stderr); // refuses before loading
        using var qwen = ModelFiles.Load(path);

        stdout.WriteLine($"perplexity: calculating perplexity over {windows} chunks, n_ctx={ctx}, {tokens.Length} tokens");
        var clock = Stopwatch.StartNew();
        if (qwen.Config.RopeScaling != null)
            stdout.WriteLine($"perplexity: rope scaling {ropeMode.Name()}: windows of {ctx} run with {new RopePolicy(qwen.Config.RopeScaling, ropeMode).ForLength(ctx).Name()} RoPE");
        var result = Perplexity.Compute(qwen, tokens, ctx, kvType, ropeMode, (i, ppl) =>
        {
            stdout.Write(string.Create(CultureInfo.InvariantCulture, $"[{i}]{ppl:F4},"));
            stdout.Flush();
        });
        stdout.WriteLine();
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"perplexity: {result.ScoredTokens} tokens scored in {clock.Elapsed.TotalSeconds:F1} s"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Final estimate: PPL = {result.Value:F4} +/- {result.Error:F5}"));
        return 0;
    }

    /// <summary>Token ids separated by spaces, commas or newlines (a JSON array's brackets are tolerated).</summary>
    public static int[] ReadTokenIds(string path)
    {
        if (!File.Exists(path)) throw new CliException($"Token file {path} does not exist.");
        var ids = new List<int>();
        foreach (var word in File.ReadAllText(path).Split([' ', ',', '\n', '\r', '\t', '[', ']'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(word, NumberStyles.Integer, CultureInfo.InvariantCulture, out int id) || id < 0)
                throw new CliException($"{path}: '{word}' is not a token id.");
            ids.Add(id);
        }
        return ids.ToArray();
    }
}
