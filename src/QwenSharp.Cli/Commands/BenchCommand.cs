using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using QwenSharp.Kernels;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Cli.Commands;

/// <summary>`qwensharp bench`: llama-bench's interface and output (pp and tg tests, md/json/csv).</summary>
public sealed class BenchCommand : ICliCommand
{
    public string Name => "bench";
    public string Summary => "Measure prompt processing and generation speed, llama-bench style.";
    public IReadOnlyList<string> Flags => [];
    public string Usage => """
        qwensharp bench -m <model> [-p 512] [-n 128] [-d 0] [-t <threads>] [-r 5] [-o md|json|csv] [--kv-cache-dtype T]
          -p, -n and -d take comma-separated lists; 0 skips a test. -d runs every test after that many tokens
          already in the KV cache (processed untimed), as llama-bench's --n-depth. Load, tokenization and sampling
          are excluded. --kv-cache-dtype (or -ctk/-ctv): f16 (default), bf16, q8_0 or f32; the cache's bytes per
          token are printed with the system info.
        """;

    public int Run(CliArgs args, TextWriter stdout, TextWriter stderr)
    {
        string model = args.Required("--model", "-m");
        var prompts = IntList(args.Get("--n-prompt", "-p") ?? "512", "-p");
        var gens = IntList(args.Get("--n-gen", "-n") ?? "128", "-n");
        var depths = IntList(args.Get("--n-depth", "-d") ?? "0", "-d");
        int threads = args.GetInt("--threads", Environment.ProcessorCount, 1, 1024, "-t");
        int reps = args.GetInt("--repetitions", 5, 1, 1000, "-r");
        string output = args.Get("--output", "-o") ?? "md";
        var kvType = KvCacheOption.Read(args);
        args.EnsureAllUsed();
        if (output is not ("md" or "json" or "csv")) throw new CliException($"-o {output} is not one of md, json, csv.");

        string path = ModelPaths.Resolve(model);
        WorkerPool.SetSharedThreadCount(threads);
        stderr.WriteLine(Kernels.KernelTiers.Describe()); // as llama-bench prints its system info
        int maxTokens = depths.DefaultIfEmpty(0).Max() + Math.Max(prompts.DefaultIfEmpty(0).Max(), gens.DefaultIfEmpty(0).Max());
        int context = OneContextPlan.ModelContext(path);
        if (maxTokens > context)
            throw new CliException($"-d plus -p or -n reaches {maxTokens} tokens; the model's context is {context}.");
        OneContextPlan.Make(path, Math.Max(maxTokens, 16), kvType, "-d plus -p or -n", stderr); // refuses before loading
        using var qwen = ModelFiles.Load(path);
        var info = Describe(qwen, path);
        var test = new SpeedTest(qwen, Math.Max(maxTokens, 16), kvType);
        stderr.WriteLine($"KV cache: {kvType.Name()}, {KvCache.BytesPerToken(qwen.Config, kvType)} bytes per token ({test.Cache.Bytes / (double)(1 << 20):F1} MiB for {test.Cache.Capacity} tokens)");

        var results = new List<BenchResult>();
        foreach (int d in depths.DefaultIfEmpty(0).Order())
        {
            foreach (int p in prompts.Where(p => p > 0))
                results.Add(Measure(info, threads, p, 0, reps, () => test.PromptProcessing(p, d)) with { Depth = d, KvType = kvType.Name() });
            foreach (int n in gens.Where(n => n > 0))
                results.Add(Measure(info, threads, 0, n, reps, () => test.TextGeneration(n, d)) with { Depth = d, KvType = kvType.Name() });
        }

        switch (output)
        {
            case "json": stdout.WriteLine(ToJson(results)); break;
            case "csv": WriteCsv(results, stdout); break;
            default: WriteMarkdown(results, stdout); break;
        }
        return 0;
    }

    public sealed record ModelInfo(string Type, string File, long SizeBytes, long Parameters);

    public sealed record BenchResult(ModelInfo Model, int Threads, int Prompt, int Gen, double[] Seconds)
    {
        /// <summary>Tokens already in the cache when the test runs (llama-bench's n_depth).</summary>
        public int Depth { get; init; }
        /// <summary>The KV cache's type (llama-bench's type_k and type_v).</summary>
        public string KvType { get; init; } = "f16";
        public int Tokens => Prompt + Gen;
        public string Test => (Prompt > 0 ? $"pp{Prompt}" : $"tg{Gen}") + (Depth > 0 ? $" @ d{Depth}" : "");
        public double[] TokensPerSecond => Seconds.Select(s => Tokens / s).ToArray();
        public double Mean => TokensPerSecond.Average();
        public double StdDev
        {
            get
            {
                var ts = TokensPerSecond;
                if (ts.Length < 2) return 0;
                double mean = ts.Average();
                return Math.Sqrt(ts.Sum(v => (v - mean) * (v - mean)) / (ts.Length - 1));
            }
        }
    }

    /// <summary>One warm-up run (as llama-bench does), then <paramref name="reps"/> timed runs.</summary>
    public static BenchResult Measure(ModelInfo model, int threads, int prompt, int gen, int reps, Func<double> run)
    {
        run();
        var seconds = new double[reps];
        for (int i = 0; i < reps; i++) seconds[i] = run();
        return new BenchResult(model, threads, prompt, gen, seconds);
    }

    public static ModelInfo Describe(Qwen2Model model, string path)
    {
        long bytes = ModelFiles.WeightBytes(path);
        return new ModelInfo($"qwen2 {model.Config.SizeLabel} {model.Weights.MlpType}", Path.GetFileName(path.TrimEnd('/')), bytes, model.Config.ParameterCount);
    }

    public static void WriteMarkdown(IEnumerable<BenchResult> results, TextWriter w)
    {
        w.WriteLine("| model                          |       size |     params | backend    | threads |            test |                  t/s |");
        w.WriteLine("| ------------------------------ | ---------: | ---------: | ---------- | ------: | --------------: | -------------------: |");
        foreach (var r in results)
            w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Model.Type,-30} | {r.Model.SizeBytes / 1048576.0,6:F2} MiB | {r.Model.Parameters / 1e6,8:F2} M | {"QwenSharp",-10} | {r.Threads,7} | {r.Test,15} | {r.Mean,11:F2} ± {r.StdDev,6:F2} |"));
    }

    private static void WriteCsv(IEnumerable<BenchResult> results, TextWriter w)
    {
        w.WriteLine("model_type,model_size,model_n_params,n_threads,n_prompt,n_gen,n_depth,avg_ts,stddev_ts");
        foreach (var r in results)
            w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"\"{r.Model.Type}\",{r.Model.SizeBytes},{r.Model.Parameters},{r.Threads},{r.Prompt},{r.Gen},{r.Depth},{r.Mean:F6},{r.StdDev:F6}"));
    }

    /// <summary>llama-bench's JSON: an array of objects, one per test.</summary>
    public static string ToJson(IEnumerable<BenchResult> results)
    {
        var array = new JsonArray();
        foreach (var r in results)
        {
            var ns = r.Seconds.Select(s => (long)(s * 1e9)).ToArray();
            array.Add(new JsonObject
            {
                ["build_commit"] = "qwensharp",
                ["backends"] = "CPU",
                ["model_filename"] = r.Model.File,
                ["model_type"] = r.Model.Type,
                ["model_size"] = r.Model.SizeBytes,
                ["model_n_params"] = r.Model.Parameters,
                ["n_threads"] = r.Threads,
                ["n_prompt"] = r.Prompt,
                ["n_gen"] = r.Gen,
                ["n_depth"] = r.Depth,
                ["type_k"] = r.KvType,
                ["type_v"] = r.KvType,
                ["test_time"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
                ["avg_ns"] = (long)ns.Average(),
                ["stddev_ns"] = (long)StdDev(ns.Select(v => (double)v).ToArray()),
                ["avg_ts"] = r.Mean,
                ["stddev_ts"] = r.StdDev,
                ["samples_ns"] = new JsonArray(ns.Select(v => (JsonNode)v).ToArray()),
                ["samples_ts"] = new JsonArray(r.TokensPerSecond.Select(v => (JsonNode)v).ToArray()),
            });
        }
        return array.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static double StdDev(double[] v)
    {
        if (v.Length < 2) return 0;
        double mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1));
    }

    private static int[] IntList(string text, string option)
    {
        var values = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < 0 || v > 1 << 20)
                throw new CliException($"{option} takes non-negative token counts up to {1 << 20}, got '{part}'.");
            values.Add(v);
        }
        return values.ToArray();
    }
}
