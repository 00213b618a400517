using System.Diagnostics;
using System.Runtime.Intrinsics;
using QwenSharp.Formats;

namespace QwenSharp.Bench;

/// <summary>
/// The decode ceiling at the moment of measuring: how fast the given threads read a whole file through the same
/// kind of mapping the weights use (every byte once, 32 bytes a load, nothing else done). Decode reads every weight
/// once a token, so tokens/s × file size over this rate is the share of the ceiling a decode reaches. Measured in
/// the run it judges because this VM's bandwidth moves by ±15% over minutes.
/// </summary>
public static unsafe class MemoryCeiling
{
    /// <summary>The best of <paramref name="passes"/> whole-file passes, in bytes per second.</summary>
    public static double ReadRate(string path, int threads, int passes = 3)
    {
        using var file = MappedFile.Open(path);
        byte* start = file.Pointer;
        long length = file.Length / 128 * 128;
        double best = 0;
        for (int pass = 0; pass <= passes; pass++) // pass 0 maps the pages in and is not counted
        {
            var clock = Stopwatch.StartNew();
            var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
            {
                long from = length * t / threads / 128 * 128, to = length * (t + 1) / threads / 128 * 128;
                var sum = Vector256<int>.Zero;
                for (long i = from; i < to; i += 128)
                    sum += Vector256.Load((int*)(start + i)) + Vector256.Load((int*)(start + i + 32))
                         + Vector256.Load((int*)(start + i + 64)) + Vector256.Load((int*)(start + i + 96));
                GC.KeepAlive(sum.ToScalar());
            })).ToArray();
            foreach (var w in workers) w.Start();
            foreach (var w in workers) w.Join();
            if (pass > 0) best = Math.Max(best, length / clock.Elapsed.TotalSeconds);
        }
        return best;
    }
}
