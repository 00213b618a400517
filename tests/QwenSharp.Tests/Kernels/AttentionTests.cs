using QwenSharp.Kernels;

namespace QwenSharp.Tests.Kernels;

/// <summary>The attention kernel against a plain float64 transcription of softmax(q·kᵀ/√d)·v with GQA over a paged
/// cache, for head sizes that exercise every vector tail; and the batched, multithreaded form against one token at a time.</summary>
public class AttentionTests
{
    /// <summary>softmax(q·kᵀ/√d)·v per head in float64, over the paged cache's slots (shared with the KV-type tests).</summary>
    internal static double[] Reference(float[] q, float[] keys, float[] values, int[] table, int blockSize,
        int heads, int kvHeads, int d, int length)
    {
        var output = new double[heads * d];
        for (int h = 0; h < heads; h++)
        {
            int kvh = h / (heads / kvHeads);
            var s = new double[length];
            for (int j = 0; j < length; j++)
            {
                int slot = table[j / blockSize] * blockSize + j % blockSize;
                double dot = 0;
                for (int i = 0; i < d; i++) dot += (double)q[h * d + i] * keys[(slot * kvHeads + kvh) * d + i];
                s[j] = dot / Math.Sqrt(d);
            }
            double max = s.Max(), sum = 0;
            for (int j = 0; j < length; j++) sum += s[j] = Math.Exp(s[j] - max);
            for (int j = 0; j < length; j++)
            {
                int slot = table[j / blockSize] * blockSize + j % blockSize;
                for (int i = 0; i < d; i++) output[h * d + i] += s[j] / sum * values[(slot * kvHeads + kvh) * d + i];
            }
        }
        return output;
    }

    private static float[] RandomValues(Random r, int n, float scale) =>
        Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();

    [Theory]
    [InlineData(1, 1, 1)] [InlineData(2, 1, 7)] [InlineData(7, 1, 15)] [InlineData(4, 2, 16)] [InlineData(14, 2, 17)]
    [InlineData(4, 4, 33)] [InlineData(6, 2, 64)] [InlineData(7, 7, 70)] [InlineData(28, 4, 128)]
    public void OneTokenMatchesFloat64(int heads, int kvHeads, int d)
    {
        foreach (int blockSize in new[] { 4, 5, 16 }) OneToken(heads, kvHeads, d, blockSize);
    }

    /// <summary>Block sizes 4, 5 and 16 put the four-key steps and the odd-key tails of the group kernel at every
    /// offset in a block.</summary>
    private static void OneToken(int heads, int kvHeads, int d, int blockSize)
    {
        var r = new Random(heads * 1000 + d);
        const int blocks = 12;
        var keys = RandomValues(r, blocks * blockSize * kvHeads * d, 3);
        var values = RandomValues(r, blocks * blockSize * kvHeads * d, 1);
        int[] table = [5, 0, 11, 3, 7, 1, 9, 2, 4, 6, 8, 10];
        foreach (int length in new[] { 1, 3, 4, 5, 17, 48 }.Where(n => n <= blocks * blockSize))
        {
            var q = RandomValues(r, heads * d, 3);
            var output = new float[heads * d];
            Attention.Causal(q, keys, values, table, blockSize, heads, kvHeads, d, length, new float[heads / kvHeads * length], output);
            var expected = Reference(q, keys, values, table, blockSize, heads, kvHeads, d, length);
            for (int i = 0; i < output.Length; i++)
                Assert.True(Math.Abs(output[i] - expected[i]) <= 1e-5 * (1 + Math.Abs(expected[i])), $"d={d} block {blockSize} length={length} [{i}]: {output[i]} vs {expected[i]}");
        }
    }

    /// <summary>A batch as the model sends it: a prefill chunk continuing a sequence at position 20 (tiles of several
    /// tokens, the last one partial), a second prefill from position 0, and a decode token of a third sequence; every
    /// output against the float64 reference. Query groups 1 to 20 fill a tile of up to 64 rows with 3 to 64 tokens, the
    /// rows of a token straddling sub-tiles of 16 for groups 7 and 20; a head size that is not whole zmm registers (48 is,
    /// 40 is not) takes the per-key path.</summary>
    [Theory]
    [InlineData(14, 2, 64)] [InlineData(28, 4, 128)] [InlineData(4, 4, 64)] [InlineData(8, 4, 32)] [InlineData(16, 4, 48)]
    [InlineData(16, 2, 16)] [InlineData(16, 1, 64)] [InlineData(20, 1, 32)] [InlineData(14, 2, 40)]
    public void BatchOverThreadsMatchesFloat64(int heads, int kvHeads, int d)
    {
        const int blockSize = 16, blocks = 24;
        var r = new Random(heads * 100 + d);
        var keys = RandomValues(r, blocks * blockSize * kvHeads * d, 3);
        var values = RandomValues(r, blocks * blockSize * kvHeads * d, 1);
        int[] tableA = [3, 9, 4, 11], tableB = [0, 1, 2, 5, 6, 7, 8, 10], tableC = [12, 13];
        int[] tables = [.. tableA, .. tableB, .. tableC];
        var offsets = new List<int>();
        var positions = new List<int>();
        for (int i = 0; i < 37; i++) { offsets.Add(0); positions.Add(20 + i); }
        for (int i = 0; i < 9; i++) { offsets.Add(tableA.Length + tableB.Length); positions.Add(i); }
        offsets.Add(tableA.Length); positions.Add(100);
        int tokens = positions.Count;
        var q = RandomValues(r, tokens * heads * d, 3);
        var batched = new float[tokens * heads * d];
        using var pool = new WorkerPool(2);
        Attention.CausalBatch(q, keys, values, tables, offsets.ToArray(), positions.ToArray(), tokens, blockSize, heads, kvHeads, d, batched, pool);
        for (int t = 0; t < tokens; t++)
        {
            var table = offsets[t] == 0 ? tableA : offsets[t] == tableA.Length ? tableB : tableC;
            var expected = Reference(q.AsSpan(t * heads * d, heads * d).ToArray(), keys, values, table, blockSize, heads, kvHeads, d, positions[t] + 1);
            for (int i = 0; i < heads * d; i++)
                Assert.True(Math.Abs(batched[t * heads * d + i] - expected[i]) <= 1e-5 * (1 + Math.Abs(expected[i])),
                    $"token {t} value {i}: {batched[t * heads * d + i]} vs {expected[i]}");
        }
    }
}
