using System.Diagnostics;
using System.Globalization;
using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Bench;

/// <summary>
/// The attention kernel alone at depth, one layer of a model's shape over a cache of random rows (no model, no fill):
/// a prefill chunk of -p tokens at positions d..d+p−1 and a decode token at position d, each the median of -r runs,
/// with the whole model's attention per token that implies (× layers). Isolates what `versus -d` measures inside a
/// forward pass, in seconds instead of the minutes a 16k fill takes on two cores.
/// usage: attention [--shape 0.5b|7b] [-d 16384] [-p 512] [-t 2] [-r 5] [--kv-cache-dtype f16]
/// </summary>
public sealed class AttentionAtDepth : IBenchmark
{
    public string Name => "attention";
    public string Summary => "The attention kernel alone: a prefill chunk and a decode token at depth, per layer [--shape 0.5b|7b] [-d 16384] [-p 512] [--kv-cache-dtype f16].";

    public int Run(string[] args)
    {
        string shape = Arg(args, "--shape") ?? "0.5b";
        var (heads, kvHeads, d, layers) = shape switch
        {
            "0.5b" => (14, 2, 64, 24),
            "7b" => (28, 4, 128, 28),
            _ => throw new ArgumentException($"--shape must be 0.5b or 7b; got '{shape}'."),
        };
        int depth = Int(args, "-d", 16384), prompt = Int(args, "-p", 512), threads = Int(args, "-t", 2), reps = Int(args, "-r", 5);
        var type = KvCacheTypes.Parse(Arg(args, "--kv-cache-dtype") ?? "f16");
        const int blockSize = 16;
        int length = depth + Math.Max(prompt, 1), blocks = (length + blockSize - 1) / blockSize, width = kvHeads * d;
        var rng = new Random(1);
        var keys = Narrowed(type, blocks * blockSize * width, rng, 3);
        var values = Narrowed(type, blocks * blockSize * width, rng, 1);
        var table = Enumerable.Range(0, blocks).ToArray();
        using var pool = new WorkerPool(threads);

        double Time(int tokens, int first)
        {
            var q = new float[tokens * heads * d];
            for (int i = 0; i < q.Length; i++) q[i] = (float)(rng.NextDouble() * 2 - 1);
            var output = new float[q.Length];
            var offsets = new int[tokens];
            var positions = Enumerable.Range(first, tokens).ToArray();
            var times = new List<double>();
            for (int r = 0; r <= reps; r++)
            {
                var clock = Stopwatch.StartNew();
                Attention.CausalBatch(q, keys, values, type, table, offsets, positions, tokens, blockSize, heads, kvHeads, d, output, pool);
                if (r > 0) times.Add(clock.Elapsed.TotalMilliseconds);
            }
            times.Sort();
            return times[times.Count / 2];
        }

        Console.WriteLine($"attention, {shape} shape ({heads} heads, {kvHeads} KV heads, head size {d}, {layers} layers), {type.Name()} cache, {threads} threads, {KernelTiers.Describe()}");
        if (prompt > 0)
        {
            double ms = Time(prompt, depth);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"pp{prompt} @ d{depth}: {ms:F2} ms per layer, {ms * layers:F0} ms per chunk for the model ({prompt * 1000 / (ms * layers):F1} t/s of attention alone)"));
        }
        double decode = Time(1, depth);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"tg @ d{depth}: {decode:F3} ms per layer, {decode * layers:F2} ms per token for the model"));
        return 0;
    }

    private static unsafe byte[] Narrowed(KvCacheType type, int n, Random rng, float scale)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        var bytes = new byte[type.Bytes(n)];
        fixed (float* s = x)
        fixed (byte* b = bytes)
            KvRows.Narrow(type, s, b, n);
        return bytes;
    }

    private static int Int(string[] args, string name, int fallback) =>
        Arg(args, name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
