using System.Diagnostics;
using QwenSharp.Kernels;
using QwenSharp.Model;

namespace QwenSharp.Bench;

/// <summary>Times each weight matrix of layer 0 (and the LM head) for one token, or a batch of tokens: where a decode
/// or batched-decode step goes. Arguments: model [threads] [tokens].</summary>
public sealed class MatmulProbe : IBenchmark
{
    public string Name => "probe";
    public string Summary => "Per-matrix time of one layer and the LM head for 1 or N tokens (GB/s, GFLOP/s): <model> [threads] [tokens]";

    public int Run(string[] args)
    {
        WorkerPool.SetSharedThreadCount(args.Length > 1 ? int.Parse(args[1]) : 2);
        int tokens = args.Length > 2 ? int.Parse(args[2]) : 1;
        using var model = ModelFiles.Load(args[0]);
        var l = model.Weights.layers[0];
        // A sparse MoE layer's MLP matrices: its first expert's.
        var gate = l.gate_proj ?? l.mlp!.experts_gate_proj[0];
        var down = l.down_proj ?? l.mlp!.experts_down_proj[0];
        foreach (var w in new[] { l.q_proj, l.k_proj, l.o_proj, gate, down, model.Weights.lm_head })
        {
            var x = new float[w.Columns * tokens];
            var y = new float[w.Rows * tokens];
            for (int i = 0; i < x.Length; i++) x[i] = (i % 7) * 0.1f;
            MatMul.Multiply(w, x, y, tokens);
            var clock = Stopwatch.StartNew();
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            int reps = tokens >= 64 ? 5 : 20;
            for (int r = 0; r < reps; r++) MatMul.Multiply(w, x, y, tokens);
            double ms = clock.Elapsed.TotalMilliseconds / reps;
            // Processor time of the whole process: on a machine shared with other jobs, the work's own cost (wall time
            // counts the waits for a core), in GFLOP/s per busy core.
            double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMilliseconds / reps;
            double gflops = 2.0 * w.Rows * w.Columns * tokens / ms / 1e6;
            Console.WriteLine($"{w.Name,-40} {w.Type} [{w.Rows}, {w.Columns}] x {tokens} {ms,8:F3} ms  {w.ByteLength / ms / 1e6,6:F1} GB/s  {gflops,6:F1} GFLOP/s  (cpu {cpuMs,8:F3} ms, {2.0 * w.Rows * w.Columns * tokens / cpuMs / 1e6,6:F1} GFLOP/s per busy core)");
        }
        return 0;
    }
}
