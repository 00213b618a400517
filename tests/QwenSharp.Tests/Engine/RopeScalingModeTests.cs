using QwenSharp.Engine;
using QwenSharp.Generation;
using QwenSharp.Model;
using QwenSharp.Tensors;
using QwenSharp.Tests.Model;

namespace QwenSharp.Tests.Engine;

/// <summary>
/// The length-aware rope choice end to end on the "yarn" tiny shape (YaRN factor 4 over an original context of 32), with
/// its twin "yarn-norope" (the same weights without rope_scaling) and a static-mode engine as the references. Every
/// comparison is exact, on token ids and on the logprobs of the 20 likeliest tokens at each step (a fingerprint of the
/// logits: the sampled token alone has logprob 0 on these peaked random models): the same tokens through the same forward
/// passes give the same bits.
/// </summary>
public class RopeScalingModeTests
{
    private const int Original = 32;

    private static LoadedModel Load(string shape, RopeScalingMode mode, bool prefix = true) =>
        LoadedModel.Load(TinyModels.Gguf(shape, GgmlType.F32),
            new EngineOptions { KvCacheBytes = 4 << 20, MaxModelLen = 64, RopeScalingMode = mode, EnablePrefixCaching = prefix });

    /// <summary><paramref name="Logprobs"/>: 20 per token, step after step.</summary>
    private sealed record Run(int[] Tokens, double[] Logprobs, RopeReport? Rope, int CachedTokens);

    /// <param name="maxTokens">null: not asked for, the rest of the context (an open length)</param>
    private static async Task<Run> Generate(LoadedModel model, int[] prompt, int? maxTokens)
    {
        var p = new SamplingParams { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true, Logprobs = 20 };
        var ids = new List<int>();
        var logprobs = new List<double>();
        RopeReport? rope = null;
        int cached = 0;
        await foreach (var e in model.GenerateAsync(prompt, model.Resolve(p, prompt.Length)))
        {
            ids.Add(e.TokenId);
            foreach (var top in e.Logprob!.TopLogprobs) logprobs.Add(top.Logprob);
            if (e.IsFinal) (rope, cached) = (e.Rope, e.CachedTokens);
        }
        return new Run(ids.ToArray(), logprobs.ToArray(), rope, cached);
    }

    private static int[] Prompt(int length, int seed) => TinyModels.Tokens(length, TinyModels.Config("yarn").VocabSize, seed);

    [Fact]
    public async Task ThePromptPlusMaxTokensChoosesPlainRopeOrYarnFromTheFirstToken()
    {
        using var aware = Load("yarn", RopeScalingMode.LengthAware);
        using var plain = Load("yarn-norope", RopeScalingMode.LengthAware);
        using var yarn = Load("yarn", RopeScalingMode.Static);
        var prompt = Prompt(20, seed: 31);

        // 20 + 12 = 32 fits the original context: plain RoPE, exactly the weights without rope_scaling.
        var fits = await Generate(aware, prompt, 12);
        Assert.Equal(new RopeReport(RopeScalingMode.LengthAware, RopeMode.Plain, null), fits.Rope);
        var twin = await Generate(plain, prompt, 12);
        Assert.Equal(twin.Tokens, fits.Tokens);
        Assert.Equal(twin.Logprobs, fits.Logprobs);
        Assert.Null(twin.Rope); // no rope_scaling: nothing to choose, nothing reported

        // 20 + 13 = 33 does not: YaRN from the first token, exactly the static engine.
        var longer = await Generate(aware, prompt, 13);
        Assert.Equal(new RopeReport(RopeScalingMode.LengthAware, RopeMode.Yarn, null), longer.Rope);
        var reference = await Generate(yarn, prompt, 13);
        Assert.Equal(new RopeReport(RopeScalingMode.Static, RopeMode.Yarn, null), reference.Rope);
        Assert.Equal(reference.Tokens, longer.Tokens);
        Assert.Equal(reference.Logprobs, longer.Logprobs);
        // The two tables give different outputs here, so the equalities above could fail.
        Assert.NotEqual(twin.Logprobs, reference.Logprobs[..(12 * 20)]);

        // A prompt longer than the original context runs under YaRN whatever its length is asked for.
        var longPrompt = Prompt(Original + 4, seed: 32);
        Assert.Equal(RopeMode.Yarn, (await Generate(aware, longPrompt, null)).Rope!.Rope);
        Assert.Equal(0, aware.Engine.Stats.RopeRecomputes);
    }

    /// <summary>
    /// An open-length sequence (no max_tokens) starts plain; the step it holds 33 tokens it is recomputed once under YaRN.
    /// The property: its tokens before the crossing are those of the weights without rope_scaling, and every token and
    /// logprob after it is what a static-YaRN engine gives when handed the sequence's 33 tokens as its prompt.
    /// </summary>
    [Fact]
    public async Task AnOpenLengthSequenceCrossingTheOriginalContextIsRecomputedUnderYarnAndContinuesAsStaticYarn()
    {
        using var aware = Load("yarn", RopeScalingMode.LengthAware);
        using var plain = Load("yarn-norope", RopeScalingMode.LengthAware);
        using var yarn = Load("yarn", RopeScalingMode.Static);
        var prompt = Prompt(20, seed: 33);

        var run = await Generate(aware, prompt, null);
        Assert.Equal(64 - 20, run.Tokens.Length);
        Assert.Equal(new RopeReport(RopeScalingMode.LengthAware, RopeMode.Yarn, Original + 1), run.Rope);
        Assert.Equal(1, aware.Engine.Stats.RopeRecomputes);

        int before = Original + 1 - prompt.Length; // tokens sampled under plain RoPE: the last of them made 33
        var plainRun = await Generate(plain, prompt, before);
        Assert.Equal(plainRun.Tokens, run.Tokens[..before]);
        Assert.Equal(plainRun.Logprobs, run.Logprobs[..(before * 20)]);

        var crossed = prompt.Concat(run.Tokens[..before]).ToArray();
        var continued = await Generate(yarn, crossed, null);
        Assert.Equal(continued.Tokens, run.Tokens[before..]);
        Assert.Equal(continued.Logprobs, run.Logprobs[(before * 20)..]);
    }

    /// <summary>
    /// Prefix-cache entries carry the table: a YaRN sequence never reuses blocks a plain one computed from the same tokens,
    /// while a second plain sequence does.
    /// </summary>
    [Fact]
    public async Task PrefixCacheEntriesAreKeyedByTheRotaryTable()
    {
        using var aware = Load("yarn", RopeScalingMode.LengthAware);
        using var yarn = Load("yarn", RopeScalingMode.Static, prefix: false);
        var prompt = Prompt(20, seed: 34);

        var first = await Generate(aware, prompt, 4);                 // plain: caches its first block (16 tokens)
        Assert.Equal(RopeMode.Plain, first.Rope!.Rope);
        var again = await Generate(aware, prompt, 4);                 // plain again: served from the cache
        Assert.Equal(16, again.CachedTokens);
        Assert.Equal(first.Logprobs, again.Logprobs);

        var longer = await Generate(aware, prompt, 20);               // 40: YaRN over the same prompt
        Assert.Equal(RopeMode.Yarn, longer.Rope!.Rope);
        Assert.Equal(0, longer.CachedTokens);
        var reference = await Generate(yarn, prompt, 20);
        Assert.Equal(reference.Logprobs, longer.Logprobs);

        var yarnAgain = await Generate(aware, prompt, 20);            // and YaRN blocks serve YaRN sequences
        Assert.Equal(16, yarnAgain.CachedTokens);
        Assert.Equal(reference.Logprobs, yarnAgain.Logprobs);
    }

    [Fact]
    public async Task WithoutRopeScalingTheModeChangesNothing()
    {
        using var aware = Load("yarn-norope", RopeScalingMode.LengthAware);
        using var stat = Load("yarn-norope", RopeScalingMode.Static);
        var prompt = Prompt(20, seed: 35);
        var a = await Generate(aware, prompt, null);
        var s = await Generate(stat, prompt, null);
        Assert.Equal(s.Logprobs, a.Logprobs);
        Assert.Null(a.Rope);
        Assert.Equal(0, aware.Engine.Stats.RopeRecomputes);
    }

    [Theory]
    [InlineData("length-aware", RopeScalingMode.LengthAware)]
    [InlineData("Static", RopeScalingMode.Static)]
    public void ModeNamesParse(string text, RopeScalingMode mode) => Assert.Equal(mode, RopeModeNames.ParseScalingMode(text));

    [Theory]
    [InlineData("dynamic")]
    [InlineData("")]
    public void AnUnknownModeIsRefusedNamingTheAllowedOnes(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => RopeModeNames.ParseScalingMode(text));
        Assert.Contains($"'{text}'", e.Message);
        Assert.Contains("length-aware, static", e.Message);
    }
}
