using System.Diagnostics;
using System.Globalization;
using LLama;
using LLama.Common;
using LLama.Native;
using QwenSharp.Kernels;
using QwenSharp.Model;

namespace QwenSharp.Bench;

/// <summary>
/// llama.cpp (LLamaSharp 0.30.0, CPU backend) and QwenSharp on the same GGUF file, same threads, in one
/// process, alternating run by run so both see the same machine state. Prints llama-bench style t/s for each
/// engine and the ratio QwenSharp / llama.cpp of the min and of the median.
/// usage: versus -m model.gguf [-p 512] [-n 128] [-t 2] [-r 3] [-b 8] [-d 0]  (-b: batched decode of that many sequences;
/// -d: every test after that many tokens in the cache, filled once untimed, as llama-bench's --n-depth;
/// --llama-avx avx512|avx2|avx|none: llama.cpp's library, by default the one matching QwenSharp's kernel tier;
/// --quiet-lock DIR: hold that lock directory (<see cref="QuietLock"/>) around the timed runs only)
/// </summary>
public sealed class VersusLlamaCpp : IBenchmark
{
    public string Name => "versus";
    public string Summary => "QwenSharp vs llama.cpp on one GGUF file: pp and tg t/s, alternating, with ratios [--kv-cache-dtype f16|f32|bf16|q8_0].";

    public int Run(string[] args)
    {
        string model = Arg(args, "-m") ?? throw new ArgumentException("-m <model.gguf> is required");
        _quietLock = Arg(args, "--quiet-lock");
        int prompt = int.Parse(Arg(args, "-p") ?? "512", CultureInfo.InvariantCulture);
        int gen = int.Parse(Arg(args, "-n") ?? "128", CultureInfo.InvariantCulture);
        int threads = int.Parse(Arg(args, "-t") ?? "2", CultureInfo.InvariantCulture);
        int reps = int.Parse(Arg(args, "-r") ?? "3", CultureInfo.InvariantCulture);
        int batch = int.Parse(Arg(args, "-b") ?? "0", CultureInfo.InvariantCulture);
        int depth = int.Parse(Arg(args, "-d") ?? "0", CultureInfo.InvariantCulture);
        // One cache type for both engines (llama.cpp's -ctk/-ctv), f16 the default of both.
        var kvType = QwenSharp.Tensors.KvCacheTypes.Parse(Arg(args, "--kv-cache-dtype") ?? "f16");

        WorkerPool.SetSharedThreadCount(threads);
        using var ours = ModelFiles.Load(model);
        var speed = new SpeedTest(ours, depth + Math.Max(Math.Max(prompt, gen * Math.Max(batch, 1)), 16) + 16, kvType);
        // Touch every weight before llama.cpp reads the file: pages read through our huge-page mapping land in 2 MB
        // folios of the page cache, which stream 3x faster on this VM than the 4 KB pages a plain read leaves there.
        speed.TextGeneration(1);
        // llama.cpp's library for the same instruction set as our tier (its AVX2 build against our avx2 and avx-vnni tiers:
        // LLamaSharp ships no AVX-VNNI build; its avx512 build, which has no vpdpbusd, against avx512 and avx512-vnni),
        // unless --llama-avx names one.
        var level = (Arg(args, "--llama-avx") ?? (KernelTiers.Avx512 ? "avx512" : KernelTiers.X86 ? "avx2" : "none")) switch
        {
            "avx512" => AvxLevel.Avx512,
            "avx2" => AvxLevel.Avx2,
            "avx" => AvxLevel.Avx,
            _ => AvxLevel.None,
        };
        NativeLibraryConfig.All.WithAvx(level);
        using var llama = new Llama(model, depth + Math.Max(prompt, gen) + 16, threads, kvType);
        Console.WriteLine($"model {Path.GetFileName(model)}, {threads} threads, {reps} runs each, alternating; QwenSharp {KernelTiers.Describe()}; llama.cpp {level}");

        string at = depth > 0 ? $" @ d{depth}" : "";
        if (prompt > 0)
            Report($"pp{prompt}{at}", prompt, reps, () => speed.PromptProcessing(prompt, depth), () => llama.PromptProcessing(prompt, depth));
        if (gen > 0)
        {
            var (q, l) = Report($"tg{gen}{at}", gen, reps, () => speed.TextGeneration(gen, depth), () => llama.TextGeneration(gen, depth));
            double ceiling = MemoryCeiling.ReadRate(model, threads), bytes = new FileInfo(model).Length;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"decode vs memory: {threads} threads read the file at {ceiling / 1e9:F1} GB/s now; tg median reads {q * bytes / 1e9:F1} GB/s (QwenSharp, {q * bytes / ceiling:P0}), {l * bytes / 1e9:F1} GB/s (llama.cpp, {l * bytes / ceiling:P0})"));
        }
        if (batch > 1)
        {
            using var quiet = QuietLock.Take(_quietLock);
            var one = Times(reps, () => speed.TextGeneration(gen)).Select(s => gen / s).ToArray();
            var many = Times(reps, () => speed.BatchedGeneration(batch, gen)).Select(s => batch * gen / s).ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"batched decode: 1 sequence {Median(one):F1} t/s, {batch} sequences {Median(many):F1} t/s in all: {Median(many) / Median(one):F2}x"));
        }
        return 0;
    }

    /// <summary>--quiet-lock DIR: the timed runs hold this lock (<see cref="QuietLock"/>); the warm-ups and fills do not.</summary>
    private static string? _quietLock;

    /// <summary>Prints the test's line and returns the two medians (tokens/s).</summary>
    private static (double Ours, double Theirs) Report(string test, int tokens, int reps, Func<double> ours, Func<double> theirs)
    {
        ours();
        theirs(); // warm-up, as llama-bench does
        using var quiet = QuietLock.Take(_quietLock);
        var q = new List<double>();
        var l = new List<double>();
        for (int i = 0; i < reps; i++)
        {
            q.Add(tokens / ours());
            l.Add(tokens / theirs());
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{test}: QwenSharp {Median(q),8:F2} t/s (min {q.Min():F2}), llama.cpp {Median(l),8:F2} t/s (min {l.Min():F2}); " +
            $"ratio median {Median(q) / Median(l):F2}x, min {q.Min() / l.Min():F2}x; runs QwenSharp [{string.Join(", ", q.Select(v => v.ToString("F1", CultureInfo.InvariantCulture)))}] llama.cpp [{string.Join(", ", l.Select(v => v.ToString("F1", CultureInfo.InvariantCulture)))}]"));
        return (Median(q), Median(l));
    }

    private static double[] Times(int reps, Func<double> run)
    {
        run();
        return Enumerable.Range(0, reps).Select(_ => run()).ToArray();
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.OrderBy(x => x).ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>llama.cpp measured the way llama-bench does: pp = one batch decode, tg = single-token decodes.</summary>
    private sealed class Llama : IDisposable
    {
        private readonly LLamaWeights _weights;
        private readonly LLamaContext _context;
        private readonly int _vocab;

        public Llama(string path, int contextSize, int threads, QwenSharp.Tensors.KvCacheType kvType)
        {
            var cache = kvType switch
            {
                QwenSharp.Tensors.KvCacheType.F32 => GGMLType.GGML_TYPE_F32,
                QwenSharp.Tensors.KvCacheType.BF16 => (GGMLType)30, // GGML_TYPE_BF16 (LLamaSharp 0.30 names no constant for it)
                QwenSharp.Tensors.KvCacheType.Q8_0 => GGMLType.GGML_TYPE_Q8_0,
                _ => GGMLType.GGML_TYPE_F16,
            };
            NativeLogConfig.llama_log_set((level, message) => { });
            var p = new ModelParams(path)
            {
                ContextSize = (uint)contextSize,
                BatchSize = (uint)contextSize,
                UBatchSize = 512,
                GpuLayerCount = 0,
                Threads = threads,
                BatchThreads = threads,
                TypeK = cache,
                TypeV = cache,
                // llama.cpp needs flash attention for a quantized V cache.
                FlashAttention = kvType == QwenSharp.Tensors.KvCacheType.Q8_0,
            };
            _weights = LLamaWeights.LoadFromFile(p);
            _context = _weights.CreateContext(p);
            _vocab = _weights.Vocab.Count;
        }

        private int _depth;

        /// <summary>Positions 0..depth−1 filled once with a random prompt (untimed); later positions emptied.</summary>
        private void Fill(int depth)
        {
            if (depth != _depth)
            {
                _context.NativeHandle.MemoryClear(true);
                var rng = new Random(-depth);
                for (int start = 0; start < depth; start += 512)
                {
                    var fill = new LLamaBatch();
                    for (int i = start; i < Math.Min(depth, start + 512); i++) fill.Add((LLamaToken)rng.Next(_vocab), i, LLamaSeqId.Zero, false);
                    Check(_context.NativeHandle.Decode(fill));
                }
                _depth = depth;
            }
            _context.NativeHandle.MemorySequenceRemove(LLamaSeqId.Zero, depth, -1);
        }

        public double PromptProcessing(int tokens, int depth)
        {
            Fill(depth);
            var batch = new LLamaBatch();
            var rng = new Random(tokens);
            for (int i = 0; i < tokens; i++) batch.Add((LLamaToken)rng.Next(_vocab), depth + i, LLamaSeqId.Zero, i == tokens - 1);
            var clock = Stopwatch.StartNew();
            Check(_context.NativeHandle.Decode(batch));
            return clock.Elapsed.TotalSeconds;
        }

        public double TextGeneration(int tokens, int depth)
        {
            Fill(depth);
            var batch = new LLamaBatch();
            int next = 0;
            var clock = Stopwatch.StartNew();
            for (int pos = depth; pos < depth + tokens; pos++)
            {
                batch.Clear();
                batch.Add((LLamaToken)next, pos, LLamaSeqId.Zero, true);
                Check(_context.NativeHandle.Decode(batch));
                var logits = _context.NativeHandle.GetLogitsIth(0);
                next = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits); // the same greedy pick as SpeedTest
            }
            return clock.Elapsed.TotalSeconds;
        }

        private static void Check(DecodeResult r)
        {
            if (r != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {r}");
        }

        public void Dispose()
        {
            _context.Dispose();
            _weights.Dispose();
        }
    }
}
