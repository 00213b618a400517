using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using QwenSharp.Engine;
using QwenSharp.Generation;
using QwenSharp.Grammar;
using QwenSharp.Kernels;

namespace QwenSharp.Bench;

/// <summary>
/// `grammar-decode`: decode tokens/s of the engine with a JSON schema against without one, at 1 and at 8
/// concurrent streams, on one model file in one process, rounds alternating. Decode rate = tokens after each
/// stream's first / time from the first stream's first token to the last token, so prefill is left out. The
/// schema lets random weights write long documents (an array of strings), so both sides decode about as long.
/// </summary>
public sealed class GrammarDecode : IBenchmark
{
    public string Name => "grammar-decode";
    public string Summary => "decode tokens/s with a JSON schema vs without (-m model.gguf [-n 128] [-r 3] [-c 1,8])";

    private const string Schema = """
        {"type": "object", "properties": {"title": {"type": "string", "maxLength": 60},
         "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "count": {"type": "integer"}},
         "required": ["name", "count"], "additionalProperties": false}}}, "required": ["title", "items"], "additionalProperties": false}
        """;

    public int Run(string[] args)
    {
        string model = Arg(args, "-m") ?? throw new ArgumentException("-m model.gguf is required");
        int tokens = int.Parse(Arg(args, "-n") ?? "128", CultureInfo.InvariantCulture);
        int rounds = int.Parse(Arg(args, "-r") ?? "3", CultureInfo.InvariantCulture);
        int[] concurrency = (Arg(args, "-c") ?? "1,8").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        using var loaded = LoadedModel.Load(model, new EngineOptions { MaxNumSeqs = concurrency.Max(), KvCacheBytes = 1L << 30 });
        var compile = Stopwatch.StartNew();
        var output = StructuredOutput.JsonSchema(JsonNode.Parse(Schema)!, "bench");
        loaded.CompileGrammar(output.ToGbnf());
        Console.WriteLine($"model {Path.GetFileName(model)}; {KernelTiers.Describe()}; schema compiled in {compile.Elapsed.TotalMilliseconds:F0} ms (vocabulary included)");
        int[] prompt = loaded.Tokenizer.Encode(loaded.RenderChat(new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "List some things as JSON." })));

        foreach (int c in concurrency)
        {
            Round(loaded, prompt, c, tokens, null, -1); // warm-up: JIT and the grammar's mask cache
            Round(loaded, prompt, c, tokens, output, -1);
            var free = new List<double>();
            var constrained = new List<double>();
            var lengths = new List<double>();
            for (int r = 0; r < rounds; r++)
            {
                free.Add(Round(loaded, prompt, c, tokens, null, r).Rate);
                var (rate, mean) = Round(loaded, prompt, c, tokens, output, r);
                constrained.Add(rate);
                lengths.Add(mean);
            }
            free.Sort();
            constrained.Sort();
            double ratioMedian = constrained[rounds / 2] / free[rounds / 2];
            Console.WriteLine($"{c} stream(s): free {free[rounds / 2]:F1} t/s (min {free[0]:F1}), schema {constrained[rounds / 2]:F1} t/s (min {constrained[0]:F1}), " +
                $"ratio median {ratioMedian:F3}, min/min {constrained[0] / free[0]:F3}; schema outputs {lengths.Average():F0} tokens on average");
        }
        return 0;
    }

    private static (double Rate, double MeanTokens) Round(LoadedModel model, int[] prompt, int streams, int maxTokens, StructuredOutput? output, int round)
    {
        var clock = Stopwatch.StartNew();
        var firsts = new double[streams];
        var lasts = new double[streams];
        var counts = new int[streams];
        var tasks = Enumerable.Range(0, streams).Select(i => Task.Run(async () =>
        {
            var p = model.Constrain(model.Resolve(new SamplingParams { Temperature = 1.0, Seed = 1000 * round + i, MaxTokens = maxTokens, IgnoreEos = output is null }, prompt.Length), output);
            await foreach (var e in model.GenerateAsync(prompt, p))
            {
                double t = clock.Elapsed.TotalSeconds;
                if (counts[i]++ == 0) firsts[i] = t;
                lasts[i] = t;
            }
        })).ToArray();
        Task.WaitAll(tasks);
        double end = lasts.Max();
        // Tokens produced after every stream had started: a window where all decode together.
        int decoded = counts.Sum() - streams;
        return (decoded / Math.Max(end - firsts.Min(), 1e-9), counts.Average());
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
