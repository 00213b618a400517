using System.Diagnostics;
using QwenSharp.Kernels;
using QwenSharp.Model;

namespace QwenSharp.Bench;

/// <summary>Times each weight matrix of layer 0 (and the LM head) for one token: where decode time goes.</summary>
public sealed class MatmulProbe : IBenchmark
{
    public string Name => "probe";
    public string Summary => "Per-matrix decode time of one layer and the LM head (GB/s).";

    public int Run(string[] args)
    {
        WorkerPool.SetSharedThreadCount(args.Length > 1 ? int.Parse(args[1]) : 2);
        using var model = ModelFiles.Load(args[0]);
        var l = model.Weights.layers[0];
        foreach (var w in new[] { l.q_proj, l.k_proj, l.o_proj, l.gate_proj, l.down_proj, model.Weights.lm_head })
        {
            var x = new float[w.Columns];
            var y = new float[w.Rows];
            new Random(1).NextBytes(new byte[1]);
            for (int i = 0; i < x.Length; i++) x[i] = (i % 7) * 0.1f;
            MatMul.Multiply(w, x, y, 1);
            var clock = Stopwatch.StartNew();
            int reps = 20;
            for (int r = 0; r < reps; r++) MatMul.Multiply(w, x, y, 1);
            double ms = clock.Elapsed.TotalMilliseconds / reps;
            Console.WriteLine($"{w.Name,-40} {w.Type} [{w.Rows}, {w.Columns}] {ms,8:F3} ms  {w.ByteLength / ms / 1e6,6:F1} GB/s");
        }
        return 0;
    }
}
