using QwenSharp.Engine;
using QwenSharp.Generation;
using QwenSharp.Tensors;
using QwenSharp.Tests.Model;
using QwenSharp.Tests.Oracles;

namespace QwenSharp.Tests.Engine;

/// <summary>The engine end to end on random GGUF models: greedy output against llama.cpp, batching against solo runs, cancellation.</summary>
public class InferenceEngineTests
{
    private static readonly SamplingParams Greedy = new() { Temperature = 0, MaxTokens = 32, IgnoreEos = true };

    private static async Task<int[]> Run(LoadedModel model, int[] prompt, SamplingParams p, CancellationToken ct = default)
    {
        var ids = new List<int>();
        await foreach (var e in model.GenerateAsync(prompt, model.Resolve(p, prompt.Length), cancellationToken: ct))
            ids.Add(e.TokenId);
        return ids.ToArray();
    }

    [Theory]
    [InlineData("odd")]
    [InlineData("moe-odd")]
    public async Task GreedyContinuationEqualsLlamaCpp(string shape)
    {
        string path = TinyModels.Gguf(shape, GgmlType.F32);
        var prompt = TinyModels.Tokens(12, TinyModels.Config(shape).VocabSize, seed: 21);
        int[] expected;
        using (var llama = new LlamaCpp(path, contextSize: 64))
            expected = llama.Greedy(prompt, 32);
        using var model = LoadedModel.Load(path, new EngineOptions { KvCacheBytes = 8 << 20 });
        Assert.Equal(expected, await Run(model, prompt, Greedy));
    }

    [Theory]
    [InlineData("gqa7")]
    [InlineData("moe")]
    public async Task SixteenConcurrentRequestsEachEqualTheirSoloRun(string shape)
    {
        using var model = LoadedModel.Load(TinyModels.Gguf(shape, GgmlType.Q8_0), new EngineOptions { KvCacheBytes = 16 << 20, MaxNumSeqs = 16 });
        int vocab = model.Model.Config.VocabSize;
        // Half the prompts share a 20-token prefix, so the prefix cache is exercised too.
        var shared = TinyModels.Tokens(20, vocab, seed: 100);
        var prompts = Enumerable.Range(0, 16)
            .Select(i => i % 2 == 0 ? shared.Concat(TinyModels.Tokens(3 + i, vocab, seed: i)).ToArray() : TinyModels.Tokens(5 + i, vocab, seed: 50 + i))
            .ToArray();
        var p = Greedy with { MaxTokens = 12 };
        var solo = new int[16][];
        for (int i = 0; i < 16; i++) solo[i] = await Run(model, prompts[i], p);
        var together = await Task.WhenAll(prompts.Select(prompt => Task.Run(() => Run(model, prompt, p))));
        for (int i = 0; i < 16; i++) Assert.Equal(solo[i], together[i]);
        Assert.True(model.Engine.Stats.PrefixHitTokens > 0, "the shared prefix was never served from the cache");
        Assert.True(model.Engine.Stats.Steps < 16 * 13, "requests were not batched");
    }

    [Fact]
    public async Task CancelledRequestFreesItsBlocks()
    {
        using var model = LoadedModel.Load(TinyModels.Gguf("tiny", GgmlType.F32), new EngineOptions { KvCacheBytes = 4 << 20, EnablePrefixCaching = false });
        using var cts = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var e in model.GenerateAsync(TinyModels.Tokens(10, 300), model.Resolve(Greedy with { MaxTokens = 200 }, 10), cancellationToken: cts.Token))
                if (++seen == 3) cts.Cancel();
        });
        for (int i = 0; i < 100 && model.Engine.Stats.KvUsage > 0; i++) await Task.Delay(10);
        Assert.Equal(0, model.Engine.Stats.KvUsage);
        Assert.Equal(0, model.Engine.Stats.Running);
    }

    [Fact]
    public void TooLongRequestIsRefusedNamingBothCounts()
    {
        using var model = LoadedModel.Load(TinyModels.Gguf("tiny", GgmlType.F32), new EngineOptions { MaxModelLen = 64, KvCacheBytes = 4 << 20 });
        var e = Assert.Throws<RequestRefusedException>(() => model.GenerateAsync(TinyModels.Tokens(60, 300), model.Resolve(Greedy with { MaxTokens = 10 }, 60)));
        Assert.Contains("60", e.Message);
        Assert.Contains("10", e.Message);
        Assert.Contains("64", e.Message);
    }
}
