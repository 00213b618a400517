using System.Diagnostics;
using LLama.Native;
using QwenSharp.Quantization;

namespace QwenSharp.Bench;

/// <summary>
/// `quantize IN.gguf TYPE [--threads N] [--runs R] [--quiet-lock DIR]`: wall time of <see cref="GgufQuantizer"/> against llama.cpp's
/// llama_model_quantize (LLamaSharp 0.30.0, CPU backend) on the same input, threads and type, alternating runs so
/// both see the same machine; the outputs go to the temp folder and are deleted after each run. Prints each run
/// and the ratio of the medians (ours / llama.cpp).
/// </summary>
public sealed class QuantizeVersusLlamaCpp : IBenchmark
{
    public string Name => "quantize";
    public string Summary => "qwensharp quantize vs llama.cpp's llama_model_quantize: wall time, same input/threads/type.";

    public int Run(string[] args)
    {
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: quantize IN.gguf TYPE [--threads N] [--runs R] [--quiet-lock DIR]");
            return 1;
        }
        string input = args[0];
        var type = QuantizeFileTypes.Parse(args[1]);
        int threads = 2, runs = 3;
        string? quietLock = null;
        for (int i = 2; i + 1 < args.Length; i += 2)
        {
            if (args[i] == "--threads") threads = int.Parse(args[i + 1]);
            else if (args[i] == "--runs") runs = int.Parse(args[i + 1]);
            else if (args[i] == "--quiet-lock") quietLock = args[i + 1];
        }
        NativeApi.llama_empty_call();
        NativeLogConfig.llama_log_set((level, message) => { });
        string output = Path.Combine(Path.GetTempPath(), $"qwensharp-quantize-bench-{Environment.ProcessId}.gguf");
        var ours = new List<double>();
        var theirs = new List<double>();
        for (int r = 0; r < runs; r++)
        {
            using var quiet = QuietLock.Take(quietLock); // each pair of runs holds the lock, released between pairs
            var clock = Stopwatch.StartNew();
            GgufQuantizer.Run(input, output, new QuantizeOptions(type) { Threads = threads });
            ours.Add(clock.Elapsed.TotalSeconds);
            long oursBytes = new FileInfo(output).Length;
            File.Delete(output);

            var p = LLamaModelQuantizeParams.Default();
            p.nthread = threads;
            p.ftype = Enum.Parse<LLamaFtype>(type == QuantizeFileType.F32 ? "ALL_F32" : "MOSTLY_" + type);
            clock.Restart();
            if (NativeApi.llama_model_quantize(input, output, ref p) != 0) throw new InvalidOperationException("llama_model_quantize failed");
            theirs.Add(clock.Elapsed.TotalSeconds);
            long theirBytes = new FileInfo(output).Length;
            File.Delete(output);
            Console.WriteLine($"run {r + 1}: qwensharp {ours[^1]:F2} s ({oursBytes / 1e6:F1} MB)  llama.cpp {theirs[^1]:F2} s ({theirBytes / 1e6:F1} MB)");
        }
        double a = Median(ours), b = Median(theirs);
        Console.WriteLine($"{type} threads={threads}: qwensharp median {a:F2} s, llama.cpp median {b:F2} s, ratio {a / b:F2}x");
        return 0;
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
