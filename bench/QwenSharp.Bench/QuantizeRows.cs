using System.Diagnostics;
using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Bench;

/// <summary>
/// `quantize-rows [--types q4_k,q6_k] [--rows 350] [--cols 3584] [--runs 5]`: <see cref="Quantize.Row"/> on one
/// thread over normally distributed rows (1.25M values at the defaults, the 7B shape's 3584 columns), ns per value,
/// min and median. QWENSHARP_KERNELS=portable times the plain twins.
/// </summary>
public sealed class QuantizeRows : IBenchmark
{
    public string Name => "quantize-rows";
    public string Summary => "Quantize.Row on one thread, ns per value per type (QWENSHARP_KERNELS=portable: plain twins)";

    public int Run(string[] args)
    {
        string Arg(string name, string fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        var types = Arg("--types", "q4_k,q6_k").Split(',').Select(s => Enum.Parse<GgmlType>(s, ignoreCase: true)).ToArray();
        int rows = int.Parse(Arg("--rows", "350")), cols = int.Parse(Arg("--cols", "3584")), runs = int.Parse(Arg("--runs", "5"));
        var rng = new Random(18);
        var x = new float[rows * cols];
        for (int i = 0; i < x.Length; i++)
            x[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble())) * 0.02f;
        Console.WriteLine($"{KernelTiers.Describe()}; {rows} rows x {cols} on one thread, {runs} runs");
        Console.WriteLine("| type | ms min | ms median | ns/value min | ns/value median |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var type in types)
        {
            int rowBytes = (int)GgmlTypeInfo.RowBytes(type, cols);
            var dst = new byte[(long)rows * rowBytes];
            var ms = new double[runs];
            Quantize.Row(type, x.AsSpan(0, cols), dst.AsSpan(0, rowBytes)); // JIT
            for (int run = 0; run < runs; run++)
            {
                var sw = Stopwatch.StartNew();
                for (int r = 0; r < rows; r++) Quantize.Row(type, x.AsSpan(r * cols, cols), dst.AsSpan(r * rowBytes, rowBytes));
                ms[run] = sw.Elapsed.TotalMilliseconds;
            }
            Array.Sort(ms);
            double per = 1e6 / x.Length;
            Console.WriteLine($"| {type} | {ms[0]:F1} | {ms[runs / 2]:F1} | {ms[0] * per:F1} | {ms[runs / 2] * per:F1} |");
        }
        return 0;
    }
}
