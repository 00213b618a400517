using System.Globalization;
using QwenSharp.Kernels;
using QwenSharp.Model;

namespace QwenSharp.Bench;

/// <summary>
/// `batched`: `versus -b`'s batched-decode line without llama.cpp, for quick runs and profiles: one sequence and
/// <c>-b</c> sequences generating <c>-n</c> tokens each, alternating, <c>-r</c> timed runs of each after one untimed.
/// usage: batched -m model.gguf [-b 8] [-n 128] [-t 2] [-r 3] [--only-batch]
/// </summary>
public sealed class BatchedDecode : IBenchmark
{
    public string Name => "batched";
    public string Summary => "Batched decode of B sequences against one sequence (QwenSharp only): -m <model> [-b 8] [-n 128] [-t 2] [-r 3]";

    public int Run(string[] args)
    {
        string model = Arg(args, "-m") ?? throw new ArgumentException("-m <model.gguf> is required");
        int batch = int.Parse(Arg(args, "-b") ?? "8", CultureInfo.InvariantCulture);
        int gen = int.Parse(Arg(args, "-n") ?? "128", CultureInfo.InvariantCulture);
        int threads = int.Parse(Arg(args, "-t") ?? "2", CultureInfo.InvariantCulture);
        int reps = int.Parse(Arg(args, "-r") ?? "3", CultureInfo.InvariantCulture);
        bool onlyBatch = args.Contains("--only-batch");
        WorkerPool.SetSharedThreadCount(threads);
        using var ours = ModelFiles.Load(model);
        var speed = new SpeedTest(ours, gen * batch + 16);
        Console.WriteLine($"model {Path.GetFileName(model)}, {threads} threads, {batch} sequences x {gen} tokens; {KernelTiers.Describe()}");
        if (!onlyBatch) speed.TextGeneration(gen);
        speed.BatchedGeneration(batch, gen);
        var one = new List<double>();
        var many = new List<double>();
        for (int i = 0; i < reps; i++)
        {
            if (!onlyBatch) one.Add(gen / speed.TextGeneration(gen));
            many.Add(batch * gen / speed.BatchedGeneration(batch, gen));
        }
        string F(List<double> v) => string.Join(", ", v.Select(x => x.ToString("F1", CultureInfo.InvariantCulture)));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"1 sequence [{F(one)}] t/s; {batch} sequences [{F(many)}] t/s; ratio of medians {(onlyBatch ? double.NaN : Median(many) / Median(one)):F2}x"));
        return 0;
    }

    private static double Median(List<double> values)
    {
        var v = values.OrderBy(x => x).ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
