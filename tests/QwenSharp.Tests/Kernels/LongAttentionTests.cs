using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Kernels;

/// <summary>Attention over several key blocks of the online softmax, at the running tier (.ci/run repeats this at every
/// lower one): a prefill chunk deep in a sequence, a prefill from position 0 and a decode token, over every cache type,
/// for query groups 2, 7 and 8 and head sizes 64 and 128, the fast paths (tiles, group kernel) and the plain twin each
/// against the float64 reference on the widened rows and against each other.</summary>
public unsafe class LongAttentionTests
{
    public static TheoryData<KvCacheType, int, int, int> Cases()
    {
        var data = new TheoryData<KvCacheType, int, int, int>();
        foreach (var type in new[] { KvCacheType.F32, KvCacheType.F16, KvCacheType.BF16, KvCacheType.Q8_0 })
            foreach (var (heads, kvHeads, d) in new[] { (4, 2, 128), (14, 2, 64), (28, 4, 128), (16, 2, 64) })
                data.Add(type, heads, kvHeads, d);
        return data;
    }

    private static float[] RandomValues(Random r, int n, float scale) =>
        Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();

    /// <summary>Cache blocks of 16 slots (a whole number per key block) and of 5 (key blocks that end inside a cache
    /// block). Sequence A's chunk attends 251 to 290 keys: four to nine key blocks of the tiles and an odd tail; B's
    /// tokens attend 1 to 21 (the first block only, partly masked); C's decode token 301.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void ManyKeyBlocksMatchFloat64AndTheTwin(KvCacheType type, int heads, int kvHeads, int d)
    {
        foreach (int blockSize in new[] { 16, 5 }) Check(type, heads, kvHeads, d, blockSize);
    }

    private static void Check(KvCacheType type, int heads, int kvHeads, int d, int blockSize)
    {
        var r = new Random(heads * 31 + d + (int)type * 7 + blockSize);
        const int lengthA = 290, chunkA = 40, lengthB = 21, lengthC = 301;
        int blocksA = (lengthA + blockSize - 1) / blockSize, blocksB = (lengthB + blockSize - 1) / blockSize, blocksC = (lengthC + blockSize - 1) / blockSize;
        int blocks = blocksA + blocksB + blocksC, width = kvHeads * d, slots = blocks * blockSize;
        // Keys large enough that the scores spread over tens of units: the running max moves from block to block.
        var keys = Narrowed(type, RandomValues(r, slots * width, 4));
        var values = Narrowed(type, RandomValues(r, slots * width, 1));
        var wideKeys = new float[slots * width];
        var wideValues = new float[slots * width];
        fixed (byte* k = keys, v = values)
        fixed (float* wk = wideKeys, wv = wideValues)
        {
            KvRows.WidenPlain(type, k, wk, slots * width);
            KvRows.WidenPlain(type, v, wv, slots * width);
        }
        var order = Enumerable.Range(0, blocks).OrderBy(_ => r.Next()).ToArray();
        int[] tableA = order[..blocksA], tableB = order[blocksA..(blocksA + blocksB)], tableC = order[(blocksA + blocksB)..];
        int[] tables = [.. tableA, .. tableB, .. tableC];
        var offsets = new List<int>();
        var positions = new List<int>();
        for (int i = 0; i < chunkA; i++) { offsets.Add(0); positions.Add(lengthA - chunkA + i); }
        for (int i = 0; i < lengthB; i++) { offsets.Add(tableA.Length); positions.Add(i); }
        offsets.Add(tableA.Length + tableB.Length); positions.Add(lengthC - 1);
        int tokens = positions.Count;
        var q = RandomValues(r, tokens * heads * d, 3);
        var fast = new float[tokens * heads * d];
        var plain = new float[tokens * heads * d];
        using var pool = new WorkerPool(2);
        Attention.CausalBatch(q, keys, values, type, tables, offsets.ToArray(), positions.ToArray(), tokens, blockSize, heads, kvHeads, d, fast, pool);
        Attention.CausalBatchPlain(q, keys, values, type, tables, offsets.ToArray(), positions.ToArray(), tokens, blockSize, heads, kvHeads, d, plain, pool);

        for (int t = 0; t < tokens; t++)
        {
            var table = offsets[t] == 0 ? tableA : offsets[t] == tableA.Length ? tableB : tableC;
            var expected = AttentionTests.Reference(q.AsSpan(t * heads * d, heads * d).ToArray(), wideKeys, wideValues, table, blockSize, heads, kvHeads, d, positions[t] + 1);
            for (int i = 0; i < heads * d; i++)
            {
                float f = fast[t * heads * d + i], p = plain[t * heads * d + i];
                string at = $"{type} {heads}/{kvHeads} d={d} block {blockSize} token {t} (length {positions[t] + 1}) [{i}] at {KernelTiers.Name(KernelTiers.Current)}";
                Assert.True(Math.Abs(f - expected[i]) <= 1e-5 * (1 + Math.Abs(expected[i])), $"{at}: fast {f} vs float64 {expected[i]}");
                Assert.True(Math.Abs(p - expected[i]) <= 1e-5 * (1 + Math.Abs(expected[i])), $"{at}: plain {p} vs float64 {expected[i]}");
                Assert.True(Math.Abs(f - p) <= 1e-5 * (1 + Math.Abs(p)), $"{at}: fast {f} vs plain {p}");
            }
        }
    }

    private static byte[] Narrowed(KvCacheType type, float[] x)
    {
        var bytes = new byte[type.Bytes(x.Length)];
        fixed (float* s = x)
        fixed (byte* d = bytes)
            KvRows.Narrow(type, s, d, x.Length);
        return bytes;
    }
}
