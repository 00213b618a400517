using QwenSharp.Model;
using QwenSharp.Tensors;
using QwenSharp.Tests.Oracles;
using Xunit.Abstractions;

namespace QwenSharp.Tests.Model;

/// <summary>
/// Our logits against llama.cpp's on the same random GGUF file, at every position of a 64-token sequence.
/// Bounds (issue 2): F32 max|Δ| ≤ 1e-4·max|logit| (llama.cpp vs an exact float64 pass: ~2e-7);
/// F16 ≤ 2e-3 (llama.cpp rounds activations to F16 for these weights, and so do our kernels; BF16: see below);
/// Q8_0/Q4_0/Q4_K ≤ 3e-2 (both quantize activations to 8-bit blocks, Q8_0 resp. Q8_K, before integer dots).
/// </summary>
public class LlamaCppFidelityTests(ITestOutputHelper output)
{
    public static TheoryData<string, GgmlType, double> Cases => new()
    {
        { "tiny", GgmlType.F32, 1e-4 },
        { "odd", GgmlType.F32, 1e-4 },
        { "gqa7", GgmlType.F32, 1e-4 },
        { "k256", GgmlType.F32, 1e-4 },
        { "yarn", GgmlType.F32, 1e-4 },
        { "odd", GgmlType.F16, 2e-3 },
        // BF16 keeps 8 mantissa bits, so rounding activations costs 8x what it does for F16: llama.cpp itself is
        // 3.2e-3 away from an exact float64 pass on this model, and we are 2.1e-3 away from llama.cpp (measured).
        // That is the noise floor of the arithmetic, not a divergence: our own engine run with its plain kernels
        // (same BF16 rounding of activations, only another f32 summation order) differs from itself by 2.05e-3 on
        // gqa7 and 2.29e-3 on odd (measured 2026-11-28), since a last-bit difference flips a BF16 rounding and
        // that flip (2^-8 relative) propagates. Issue 2's 2e-3 holds for F16 (4e-4), not for BF16.
        { "gqa7", GgmlType.BF16, 5e-3 },
        { "odd", GgmlType.Q8_0, 3e-2 },
        { "gqa7", GgmlType.Q4_0, 3e-2 },
        { "k256", GgmlType.Q4_K, 3e-2 },
        // Qwen2-MoE (llama.cpp's qwen2moe graph): the router stays F32 in every file, as llama-quantize leaves it.
        { "moe", GgmlType.F32, 1e-4 },
        { "moe-odd", GgmlType.F32, 1e-4 },
        { "moe", GgmlType.Q8_0, 3e-2 },
        { "moe", GgmlType.Q4_K, 3e-2 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogitsMatchLlamaCppAtEveryPosition(string shape, GgmlType type, double bound)
    {
        string path = TinyModels.Gguf(shape, type);
        using var model = ModelFiles.Load(path);
        var tokens = TinyModels.Tokens(64, model.Config.VocabSize);
        var ours = TinyModels.Logits(model, tokens);
        float[][] reference;
        using (var llama = new LlamaCpp(path, contextSize: 128))
            reference = llama.Logits(tokens);

        var (diff, scale) = TinyModels.Compare(ours, reference);
        output.WriteLine($"{shape} {type}: max|Δ| = {diff:E3}, max|logit| = {scale:F3}, relative {diff / scale:E3} (bound {bound:E1})");
        Assert.True(diff <= bound * scale, $"{shape} {type}: max|Δ| {diff:E3} exceeds {bound:E1}·{scale:F3}");
    }

    /// <summary>
    /// The KV cache types (llama.cpp's -ctk/-ctv) against llama.cpp run with the same cache type, prefill and decode. Bounds
    /// as for weights of the same width: F16 2e-3, BF16 5e-3, Q8_0 3e-2 (llama.cpp rounds queries to the cache's type in
    /// its K·q product, F16 probabilities for the V product, and with Q8_0 runs flash attention; we keep queries and
    /// probabilities in f32). Head sizes 32 (the per-key path) and 64 (the group kernel in decode); the YaRN shape
    /// runs past its original context.
    /// </summary>
    [Theory]
    [InlineData("gqa7", KvCacheType.F16, 2e-3)] [InlineData("k256", KvCacheType.F16, 2e-3)] [InlineData("yarn", KvCacheType.F16, 2e-3)]
    [InlineData("gqa7", KvCacheType.BF16, 5e-3)] [InlineData("k256", KvCacheType.BF16, 5e-3)]
    [InlineData("gqa7", KvCacheType.Q8_0, 3e-2)] [InlineData("k256", KvCacheType.Q8_0, 3e-2)]
    public void CacheTypesMatchLlamaCppWithTheSameCache(string shape, KvCacheType cacheType, double bound)
    {
        string path = TinyModels.Gguf(shape, GgmlType.F32);
        using var model = ModelFiles.Load(path);
        var tokens = TinyModels.Tokens(64, model.Config.VocabSize);
        var prefill = TinyModels.Logits(model, tokens, cacheType);
        var decode = TinyModels.DecodeLogits(model, tokens, cacheType);
        var exact = TinyModels.Logits(model, tokens, KvCacheType.F32);
        var ggml = cacheType switch
        {
            KvCacheType.F16 => LLama.Native.GGMLType.GGML_TYPE_F16,
            KvCacheType.BF16 => (LLama.Native.GGMLType)30, // GGML_TYPE_BF16, which LLamaSharp 0.30 does not name
            _ => LLama.Native.GGMLType.GGML_TYPE_Q8_0,
        };
        float[][] reference;
        using (var llama = new LlamaCpp(path, contextSize: 128, cacheType: ggml))
            reference = llama.Logits(tokens);

        var (diff, scale) = TinyModels.Compare(prefill, reference);
        var (decodeDiff, _) = TinyModels.Compare(decode, reference);
        var (f32Diff, _) = TinyModels.Compare(exact, reference);
        output.WriteLine($"{shape} cache {cacheType.Name()}: prefill max|Δ| = {diff:E3}, decode {decodeDiff:E3}, our f32 cache {f32Diff:E3}; max|logit| = {scale:F3}, relative {diff / scale:E3} / {decodeDiff / scale:E3} (bound {bound:E1})");
        Assert.True(diff <= bound * scale, $"{shape} {cacheType}: prefill max|Δ| {diff:E3} exceeds {bound:E1}·{scale:F3}");
        Assert.True(decodeDiff <= bound * scale, $"{shape} {cacheType}: decode max|Δ| {decodeDiff:E3} exceeds {bound:E1}·{scale:F3}");
        // The f16 rounding is llama.cpp's: our f16 cache lands nearer its f16 run than our f32 cache does (by 8-37% here),
        // which a cache that ignored its type would not.
        if (cacheType == KvCacheType.F16)
            Assert.True(diff < f32Diff && decodeDiff < f32Diff, $"{shape}: the f16 cache ({diff:E3}, {decodeDiff:E3}) is no nearer llama.cpp's f16 cache than our f32 one ({f32Diff:E3})");
    }

    [Theory]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    public void SafetensorsTwinGivesTheSameLogits(GgmlType type)
    {
        using var gguf = ModelFiles.Load(TinyModels.Gguf("odd", type));
        using var folder = ModelFiles.Load(TinyModels.Folder("odd", type, maxShardBytes: 64 << 10));
        var tokens = TinyModels.Tokens(32, gguf.Config.VocabSize, seed: 3);
        var (diff, _) = TinyModels.Compare(TinyModels.Logits(folder, tokens), TinyModels.Logits(gguf, tokens));
        Assert.Equal(0, diff);
    }

    [Fact]
    public void BatchedSequencesGiveTheSameLogitsAsAlone()
    {
        using var model = ModelFiles.Load(TinyModels.Gguf("odd", GgmlType.F32));
        var a = TinyModels.Tokens(20, model.Config.VocabSize, seed: 5);
        var b = TinyModels.Tokens(9, model.Config.VocabSize, seed: 6);
        var aloneA = TinyModels.Logits(model, a);
        var aloneB = TinyModels.Logits(model, b);

        // Both sequences in one cache with interleaved blocks; A's prefill split in two steps; B decoded token by token.
        var cache = new KvCache(model.Config.NumHiddenLayers, model.Config.NumKeyValueHeads, model.Config.HeadDim, numBlocks: 8, blockSize: 4);
        int[] tableA = [6, 0, 2, 4, 7], tableB = [5, 1, 3];
        int vocab = model.Config.VocabSize;
        var batch = new ForwardBatch().Add(a.AsMemory(0, 12), 0, tableA, LogitsWanted.All).Add(b.AsMemory(0, 1), 0, tableB, LogitsWanted.Last);
        var first = model.Forward(batch, cache).ToArray();
        for (int i = 0; i < 12; i++)
            AssertClose(aloneA[i], first.AsSpan(i * vocab, vocab));
        AssertClose(aloneB[0], first.AsSpan(12 * vocab, vocab));

        for (int step = 1; step < b.Length; step++)
        {
            batch = new ForwardBatch().Add(b.AsMemory(step, 1), step, tableB);
            if (step == 1) batch.Add(a.AsMemory(12), 12, tableA, LogitsWanted.All);
            var logits = model.Forward(batch, cache).ToArray();
            AssertClose(aloneB[step], logits.AsSpan(0, vocab));
            if (step == 1)
                for (int i = 12; i < a.Length; i++)
                    AssertClose(aloneA[i], logits.AsSpan((i - 11) * vocab, vocab));
        }
    }

    private static void AssertClose(float[] expected, ReadOnlySpan<float> actual)
    {
        for (int v = 0; v < expected.Length; v++)
            Assert.True(Math.Abs(expected[v] - actual[v]) <= 1e-4f * (1 + Math.Abs(expected[v])), $"logit {v}: {actual[v]} vs {expected[v]}");
    }
}
