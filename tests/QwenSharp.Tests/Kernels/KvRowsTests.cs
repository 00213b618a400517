using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Kernels;

/// <summary>The KV cache's row conversions at the running tier (.ci/run repeats this at every lower one): widening
/// against its plain twin bit for bit at every tail length, narrowing against ggml's rounding, and attention over a
/// narrow cache against a float64 pass over the same rows widened.</summary>
public unsafe class KvRowsTests
{
    public static TheoryData<KvCacheType> NarrowTypes => new() { KvCacheType.F16, KvCacheType.BF16, KvCacheType.Q8_0, KvCacheType.F32 };

    private static float[] RandomValues(Random r, int n, float scale) =>
        Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();

    private static byte[] Narrowed(KvCacheType type, float[] x)
    {
        var bytes = new byte[type.Bytes(x.Length)];
        fixed (float* s = x)
        fixed (byte* d = bytes)
            KvRows.Narrow(type, s, d, x.Length);
        return bytes;
    }

    [Theory]
    [MemberData(nameof(NarrowTypes))]
    public void WidenMatchesItsTwinAtEveryLength(KvCacheType type)
    {
        var r = new Random(7 + (int)type);
        int step = type == KvCacheType.Q8_0 ? 32 : 1;
        for (int n = step; n <= 160; n += step)
        {
            // Values from subnormal-half magnitudes to beyond the fp16 range (saturated), both signs.
            var x = RandomValues(r, n, 1).Select((v, i) => v * MathF.Pow(10, i % 11 - 6)).ToArray();
            var bytes = Narrowed(type, x);
            var fast = new float[n + 1];
            var plain = new float[n + 1];
            fast[n] = plain[n] = 42;
            fixed (byte* b = bytes)
            fixed (float* f = fast, p = plain)
            {
                KvRows.Widen(type, b, f, n);
                KvRows.WidenPlain(type, b, p, n);
            }
            for (int i = 0; i <= n; i++)
                Assert.True(BitConverter.SingleToInt32Bits(fast[i]) == BitConverter.SingleToInt32Bits(plain[i]),
                    $"{type} n={n} [{i}] at {KernelTiers.Name(KernelTiers.Current)}: {fast[i]} vs plain {plain[i]}");
        }
    }

    [Fact]
    public void NarrowRoundsAsGgml()
    {
        var r = new Random(3);
        var x = RandomValues(r, 96, 5);
        x[3] = 1e6f; x[4] = -1e6f; x[5] = 65519f; x[6] = 0;
        var half = Narrowed(KvCacheType.F16, x);
        for (int i = 0; i < x.Length; i++)
        {
            float expected = (float)(Half)Math.Clamp(x[i], -65504f, 65504f);
            Assert.Equal(expected, (float)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(half, 2 * i)));
        }
        Assert.Equal(65504f, (float)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(half, 6)));
        var q8 = Narrowed(KvCacheType.Q8_0, x);
        var reference = new byte[GgmlTypeInfo.RowBytes(GgmlType.Q8_0, x.Length)];
        Quantize.Row(GgmlType.Q8_0, x, reference);
        Assert.Equal(reference, q8);
        // quantize_row_q8_0: the scale is amax/127, so the largest magnitude of a block comes back as ±127·d.
        var back = new float[32];
        fixed (byte* b = q8) fixed (float* o = back) KvRows.WidenPlain(KvCacheType.Q8_0, b, o, 32);
        float amax = x.Take(32).Max(MathF.Abs);
        Assert.Equal(amax, back.Max(MathF.Abs), amax * 1e-3f);
    }

    /// <summary>softmax(q·kᵀ/√d)·v over a narrow cache, decode (the group kernel) and a batch (tiles, lone tokens), for head
    /// sizes of the group kernel (64, 128), of tiles only (32, 96) and of neither (40), against float64 on the widened rows.</summary>
    [Theory]
    [InlineData(KvCacheType.F16, 14, 2, 64)] [InlineData(KvCacheType.BF16, 14, 2, 64)] [InlineData(KvCacheType.Q8_0, 14, 2, 64)]
    [InlineData(KvCacheType.F16, 28, 4, 128)] [InlineData(KvCacheType.Q8_0, 28, 4, 128)] [InlineData(KvCacheType.BF16, 8, 4, 32)]
    [InlineData(KvCacheType.Q8_0, 16, 2, 96)] [InlineData(KvCacheType.F16, 14, 2, 40)] [InlineData(KvCacheType.BF16, 4, 4, 40)]
    public void AttentionOverANarrowCacheMatchesFloat64(KvCacheType type, int heads, int kvHeads, int d)
    {
        if (type.Refusal(d) != null) return;
        const int blockSize = 16, blocks = 24;
        var r = new Random(heads * 10 + d + (int)type);
        int width = kvHeads * d, slots = blocks * blockSize;
        var keys = Narrowed(type, RandomValues(r, slots * width, 3));
        var values = Narrowed(type, RandomValues(r, slots * width, 1));
        var wideKeys = new float[slots * width];
        var wideValues = new float[slots * width];
        fixed (byte* k = keys, v = values)
        fixed (float* wk = wideKeys, wv = wideValues)
        {
            KvRows.WidenPlain(type, k, wk, slots * width);
            KvRows.WidenPlain(type, v, wv, slots * width);
        }
        int[] tableA = [3, 9, 4, 11, 15], tableB = [0, 1, 2, 5, 6, 7, 8, 10], tableC = [12, 13, 14, 16, 17, 18, 19, 20];
        int[] tables = [.. tableA, .. tableB, .. tableC];
        var offsets = new List<int>();
        var positions = new List<int>();
        for (int i = 0; i < 37; i++) { offsets.Add(0); positions.Add(20 + i); }
        for (int i = 0; i < 9; i++) { offsets.Add(tableA.Length + tableB.Length); positions.Add(i); }
        offsets.Add(tableA.Length); positions.Add(100);
        int tokens = positions.Count;
        var q = RandomValues(r, tokens * heads * d, 3);
        var output = new float[tokens * heads * d];
        using var pool = new WorkerPool(2);
        Attention.CausalBatch(q, keys, values, type, tables, offsets.ToArray(), positions.ToArray(), tokens, blockSize, heads, kvHeads, d, output, pool);

        // Decode at depth: one token at position 120 of sequence C, through Causal.
        var lone = new float[heads * d];
        var loneQ = RandomValues(r, heads * d, 3);
        Attention.Causal(loneQ, keys, values, type, tableC, blockSize, heads, kvHeads, d, 121, new float[heads / kvHeads * 121], lone);
        Check(loneQ, lone, tableC, 121, "lone");
        for (int t = 0; t < tokens; t++)
        {
            var table = offsets[t] == 0 ? tableA : offsets[t] == tableA.Length ? tableB : tableC;
            Check(q.AsSpan(t * heads * d, heads * d).ToArray(), output.AsSpan(t * heads * d, heads * d).ToArray(), table, positions[t] + 1, $"token {t}");
        }

        void Check(float[] query, float[] got, int[] table, int length, string what)
        {
            var reference = AttentionTests.Reference(query, wideKeys, wideValues, table, blockSize, heads, kvHeads, d, length);
            for (int h = 0; h < heads; h++)
            {
                for (int i = 0; i < d; i++)
                {
                    double expected = reference[h * d + i];
                    float actual = got[h * d + i];
                    Assert.True(Math.Abs(actual - expected) <= 1e-5 * (1 + Math.Abs(expected)),
                        $"{type} d={d} {what} head {h} [{i}] at {KernelTiers.Name(KernelTiers.Current)}: {actual} vs {expected}");
                }
            }
        }
    }
}
