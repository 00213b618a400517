using System.Diagnostics;
using BenchmarkDotNet.Running;
using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Bench;

/// <summary>
/// `kernels`: the per-kernel benchmarks. With `--quick [-t threads] [--types f16,q8_0,...]` a short manual timing
/// (median of a few runs) printing GB/s of weights for decode and GFLOP/s for 512-token prefill; otherwise
/// BenchmarkDotNet over <see cref="KernelBenchmarks"/> (remaining arguments go to BenchmarkDotNet).
/// </summary>
public sealed class KernelsBenchmark : IBenchmark
{
    public string Name => "kernels";
    public string Summary => "MatMul per weight format at 0.5B shapes: --quick for a short manual run, else BenchmarkDotNet";

    public int Run(string[] args)
    {
        if (!args.Contains("--quick"))
        {
            BenchmarkRunner.Run<KernelBenchmarks>(args: args);
            return 0;
        }
        int threads = Environment.ProcessorCount;
        int ti = Array.IndexOf(args, "-t");
        if (ti >= 0 && ti + 1 < args.Length) threads = int.Parse(args[ti + 1]);
        var types = new[] { GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.BF16 };
        int tyi = Array.IndexOf(args, "--types");
        if (tyi >= 0 && tyi + 1 < args.Length)
            types = args[tyi + 1].Split(',').Select(s => Enum.Parse<GgmlType>(s, ignoreCase: true)).ToArray();
        bool exact = args.Contains("--exact");
        if (args.Contains("--half-probe")) HalfProbe();
        using var pool = new WorkerPool(threads);
        Console.WriteLine($"threads {threads}{(exact ? ", exact path" : "")}");
        int gi = Array.IndexOf(args, "--ggml");
        bool ggml = gi >= 0 && KernelGgmlReference.TryLoad(gi + 1 < args.Length && !args[gi + 1].StartsWith('-') ? args[gi + 1] : null);
        Console.WriteLine("| type | shape | matvec ms | matvec GB/s | gemm512 ms | gemm512 GFLOP/s |" + (ggml ? " llama.cpp vec_dot matvec ms (1 thread) |" : ""));
        Console.WriteLine("|---|---|---|---|---|---|" + (ggml ? "---|" : ""));
        foreach (var type in types)
            foreach (var (rows, cols) in new[] { (4864, 896), (896, 4864) })
            {
                if (cols % GgmlTypeInfo.BlockSize(type) != 0) continue; // K-quants: 896 is not whole blocks of 256
                using var m = new KernelMatrix(type, rows, cols, seed: 1);
                var x = KernelMatrix.Random(512 * cols, 2, 1f);
                var y = new float[512 * rows];
                double mv = Median(() => Multiply(m.View, x, y, 1, pool, exact), 60);
                double mm = Median(() => Multiply(m.View, x, y, 512, pool, exact), 3);
                string reference = ggml ? $" {GgmlMatVec(m.View, x, y) * 1e3:F3} |" : "";
                Console.WriteLine($"| {type} | {rows}x{cols} | {mv * 1e3:F3} | {m.Bytes / mv / 1e9:F1} | {mm * 1e3:F1} | {2.0 * rows * cols * 512 / mm / 1e9:F1} |{reference}");
            }
        return 0;
    }

    private static unsafe double GgmlMatVec(TensorView w, float[] x, float[] y)
    {
        var scratch = new byte[x.Length * 4];
        fixed (float* px = x, py = y)
        fixed (byte* ps = scratch)
        {
            float* cx = px, cy = py;
            byte* cs = ps;
            return Median(() => KernelGgmlReference.MatVec(w, cx, cy, cs), 60);
        }
    }

    /// <summary>fp16 → fp32 of 4.4M values: TensorPrimitives' conversion against a plain copy of the same bytes.</summary>
    private static void HalfProbe()
    {
        var h = new Half[4864 * 896];
        var f = new float[h.Length];
        var f2 = new float[h.Length];
        for (int i = 0; i < h.Length; i++) h[i] = (Half)(i % 1000 * 0.001f);
        double tp = Median(() => System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(h, f), 30);
        double cp = Median(() => f.AsSpan().CopyTo(f2), 30);
        Console.WriteLine($"TensorPrimitives.ConvertToSingle(Half) {h.Length} values: {tp * 1e3:F3} ms; float copy of the same count: {cp * 1e3:F3} ms");
    }

    private static void Multiply(TensorView w, float[] x, float[] y, int tokens, WorkerPool pool, bool exact)
    {
        if (exact) MatMul.MultiplyExact(w, x, y, tokens, pool);
        else MatMul.Multiply(w, x, y, tokens, pool);
    }

    private static double Median(Action run, int repetitions)
    {
        // Warm up for 0.3 s so that everything is past tiered compilation's first tier.
        long w0 = Stopwatch.GetTimestamp();
        do run(); while (Stopwatch.GetElapsedTime(w0).TotalSeconds < 0.3);
        var times = new double[repetitions];
        for (int i = 0; i < repetitions; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        Array.Sort(times);
        return times[repetitions / 2];
    }
}
