using QwenSharp.Model;
using QwenSharp.Tensors;
using QwenSharp.Tests.Oracles;
using Xunit.Abstractions;

namespace QwenSharp.Tests.Model;

/// <summary>
/// The two rotary tables of a model whose config has YaRN (<see cref="RopeMode"/>), against llama.cpp: a sequence run
/// with plain RoPE is llama.cpp on the same weights written without the YaRN keys, a sequence run with YaRN is
/// llama.cpp on the file with them, also past position 32,768 with the card's original context. F32 weights, so the
/// bound is LlamaCppFidelityTests' 1e-4·max|logit|.
/// </summary>
public class RopeModeFidelityTests(ITestOutputHelper output)
{
    private const double Bound = 1e-4;

    /// <summary>
    /// A sequence that fits the original context (32 tokens in the "yarn" shape's 32) run in <see cref="RopeMode.Plain"/> on the
    /// YaRN model gives, bit for bit, our logits on the same weights without rope_scaling, and those are llama.cpp's on the
    /// GGUF without the YaRN keys; llama.cpp on the file with them (static YaRN) is far from both.
    /// </summary>
    [Fact]
    public void PlainSequenceOnAYarnModelIsTheModelWithoutRopeScaling()
    {
        string yarnPath = TinyModels.Gguf("yarn", GgmlType.F32), plainPath = TinyModels.Gguf("yarn-norope", GgmlType.F32);
        using var yarn = ModelFiles.Load(yarnPath);
        using var plain = ModelFiles.Load(plainPath);
        Assert.NotNull(yarn.Config.RopeScaling);
        Assert.Null(plain.Config.RopeScaling);
        var tokens = TinyModels.Tokens(yarn.Config.RopeScaling!.OriginalMaxPositionEmbeddings, yarn.Config.VocabSize);

        var ours = TinyModels.Logits(yarn, tokens, rope: RopeMode.Plain);
        var twin = TinyModels.Logits(plain, tokens);
        for (int i = 0; i < ours.Length; i++) Assert.Equal(twin[i], ours[i]);

        float[][] reference, staticYarn;
        using (var llama = new LlamaCpp(plainPath, contextSize: 64)) reference = llama.Logits(tokens);
        using (var llama = new LlamaCpp(yarnPath, contextSize: 64)) staticYarn = llama.Logits(tokens);
        var (diff, scale) = TinyModels.Compare(ours, reference);
        var (yarnDiff, _) = TinyModels.Compare(ours, staticYarn);
        output.WriteLine($"plain on the YaRN model vs llama.cpp without YaRN keys: max|Δ| = {diff:E3} (bound {Bound * scale:E3}); vs llama.cpp with them: {yarnDiff:E3}");
        Assert.True(diff <= Bound * scale, $"max|Δ| {diff:E3} exceeds {Bound:E1}·{scale:F3}");
        Assert.True(yarnDiff > 100 * Bound * scale, $"static YaRN is only {yarnDiff:E3} away: the test could not tell the tables apart");
    }

    /// <summary>
    /// One forward holding a plain sequence and a YaRN sequence gives each what it gives alone (each token's cos/sin come
    /// from its own sequence's table), and the YaRN one, running past the original context, is llama.cpp on the YaRN file.
    /// </summary>
    [Fact]
    public void EachSequenceOfABatchRunsUnderItsOwnTable()
    {
        string path = TinyModels.Gguf("yarn", GgmlType.F32);
        using var model = ModelFiles.Load(path);
        int vocab = model.Config.VocabSize;
        var shortTokens = TinyModels.Tokens(24, vocab, seed: 2);
        var longTokens = TinyModels.Tokens(64, vocab, seed: 3);
        var plainAlone = TinyModels.Logits(model, shortTokens, rope: RopeMode.Plain);
        var yarnAlone = TinyModels.Logits(model, longTokens, rope: RopeMode.Yarn);

        var cache = KvCache.For(model.Config, 128);
        var table = cache.ContiguousBlockTable(128);
        var batch = new ForwardBatch()
            .Add(shortTokens, 0, table.AsMemory(0, 2), LogitsWanted.All, RopeMode.Plain)
            .Add(longTokens, 0, table.AsMemory(2, 4), LogitsWanted.All, RopeMode.Yarn);
        var logits = model.Forward(batch, cache);
        for (int i = 0; i < shortTokens.Length; i++)
            Assert.Equal(plainAlone[i], logits.Slice(i * vocab, vocab).ToArray());
        for (int i = 0; i < longTokens.Length; i++)
            Assert.Equal(yarnAlone[i], logits.Slice((shortTokens.Length + i) * vocab, vocab).ToArray());

        float[][] reference;
        using (var llama = new LlamaCpp(path, contextSize: 128)) reference = llama.Logits(longTokens);
        var (diff, scale) = TinyModels.Compare(yarnAlone, reference);
        output.WriteLine($"YaRN sequence of a mixed batch vs llama.cpp: max|Δ| = {diff:E3} (bound {Bound * scale:E3})");
        Assert.True(diff <= Bound * scale, $"max|Δ| {diff:E3} exceeds {Bound:E1}·{scale:F3}");
    }

    /// <summary>
    /// YaRN as Qwen2-7B-Instruct's card configures it (factor 4 over an original 32,768) on a tiny shape: 33,000 tokens
    /// prefilled, logits at positions 32,700 to 32,999 (232 of them past the original context) against llama.cpp's on the
    /// same file, evaluated in micro-batches of 512.
    /// </summary>
    [Fact]
    public void YarnPastTheCardsOriginalContextMatchesLlamaCpp()
    {
        string path = TinyModels.Gguf("yarn32k", GgmlType.F32);
        using var model = ModelFiles.Load(path);
        Assert.Equal(32768, model.Config.RopeScaling!.OriginalMaxPositionEmbeddings);
        const int count = 33_000, first = 32_700;
        var tokens = TinyModels.Tokens(count, model.Config.VocabSize, seed: 4);
        var ours = TinyModels.Logits(model, tokens, first, rope: RopeMode.Yarn);

        float[][] reference;
        using (var llama = new LlamaCpp(path, contextSize: 33_280, microBatch: 512)) reference = llama.Logits(tokens, first);
        var (diff, scale) = TinyModels.Compare(ours, reference);
        output.WriteLine($"YaRN at positions {first}..{count - 1} vs llama.cpp: max|Δ| = {diff:E3}, max|logit| = {scale:F3}, relative {diff / scale:E3} (bound {Bound:E1})");
        Assert.True(diff <= Bound * scale, $"max|Δ| {diff:E3} exceeds {Bound:E1}·{scale:F3}");
    }
}
