using QwenSharp.Engine;
using QwenSharp.Model;
using QwenSharp.Tensors;
using QwenSharp.Tests.Model;

namespace QwenSharp.Tests.Engine;

/// <summary>The context as vLLM derives it and the memory plan's arithmetic on the 7B shape (the card's YaRN config,
/// 28 layers × 4 KV heads × 128: 512 values per token per layer for keys and as many for values), with the machine's
/// free memory given rather than read.</summary>
public class MemoryPlanTests
{
    private const long Gib = 1L << 30;
    private const long WeightBytes = 4_290_881_024; // the 7B Q4_0 file

    private static Qwen2Config Yarn7B => Qwen2Config.FromFile(Fixtures.Config("qwen2-7b-instruct-yarn.json"));

    [Fact]
    public void YarnContextIsTheOriginalTimesTheFactor()
    {
        // vLLM's _get_and_verify_max_len: original_max_position_embeddings 32768 × factor 4.
        Assert.Equal(131072, Yarn7B.ContextLength);
        Assert.Equal(32768, Qwen2Config.FromFile(Fixtures.Config("qwen2-7b-instruct.json")).ContextLength);
        Assert.Equal(4 * 32, TinyModels.Config("yarn").ContextLength);
    }

    [Theory]
    [InlineData(KvCacheType.F32, 4.0)]
    [InlineData(KvCacheType.F16, 2.0)]
    [InlineData(KvCacheType.BF16, 2.0)]
    [InlineData(KvCacheType.Q8_0, 34.0 / 32)]
    public void BytesPerTokenAreTheTypesWidth(KvCacheType type, double bytesPerValue)
    {
        Assert.Equal((long)(2 * 28 * 512 * bytesPerValue), KvCache.BytesPerToken(Yarn7B, type));
    }

    /// <summary>The card's 131,072 tokens with the f16 cache on a 24 GB machine (22 GiB free): 7 GiB of KV, one full context.</summary>
    [Fact]
    public void TheCardsContextFitsInF16()
    {
        var plan = MemoryPlan.Make(Yarn7B, WeightBytes, new EngineOptions { MaxNumSeqs = 1 }, 22 * Gib);
        Assert.Equal(131072, plan.MaxModelLen);
        Assert.Equal(131072, plan.KvTokens);
        Assert.Equal(7 * Gib, plan.KvBytes);
        Assert.Equal(1.0, plan.MaxConcurrency);
        Assert.Equal(WeightBytes + 7 * Gib + plan.ScratchBytes, plan.TotalBytes);
        Assert.Contains("131,072 tokens (7.00 GiB)", string.Join("\n", plan.Describe()));
    }

    /// <summary>Without a budget the cache takes what free memory leaves after weights, scratch and the margin, up to
    /// max_num_seqs full contexts; the concurrency is what that holds.</summary>
    [Fact]
    public void TheBudgetIsWhatFreeMemoryLeaves()
    {
        long available = 22 * Gib;
        var plan = MemoryPlan.Make(Yarn7B, WeightBytes, new EngineOptions { MaxNumSeqs = 16, KvCacheType = KvCacheType.Q8_0 }, available);
        long left = available - WeightBytes - plan.ScratchBytes - MemoryPlan.Margin(available);
        long perToken = 2 * 28 * 16 * 34;
        Assert.Equal(left / (16 * perToken) * 16, plan.KvTokens);
        Assert.Equal(plan.KvTokens / 131072.0, plan.MaxConcurrency, 6);
        Assert.True(plan.MaxConcurrency > 3, $"{plan.MaxConcurrency}");

        var capped = MemoryPlan.Make(Yarn7B, WeightBytes, new EngineOptions { MaxNumSeqs = 2, MaxModelLen = 8192 }, available);
        Assert.Equal(2 * 8192, capped.KvTokens);
    }

    [Fact]
    public void ImpossibleContextIsRefusedWithItsNumbers()
    {
        // f32: 131072 × 112 KiB = 14 GiB, which 16 GiB free minus 4 GB of weights cannot hold.
        var e = Assert.Throws<MemoryPlanException>(() =>
            MemoryPlan.Make(Yarn7B, WeightBytes, new EngineOptions { MaxModelLen = 131072, KvCacheType = KvCacheType.F32, MaxNumSeqs = 64 }, 16 * Gib));
        Assert.Contains("131072 tokens needs 14.00 GiB of f32 KV cache (114688 bytes per token)", e.Message);
        Assert.Contains("16.00 GiB available", e.Message);
        Assert.Contains("weights 4.00 GiB", e.Message);
        Assert.Contains("the largest context that fits is", e.Message);
    }

    [Fact]
    public void AnExplicitBudgetIsTakenAndChecked()
    {
        var options = new EngineOptions { KvCacheBytes = 14 * Gib, KvCacheType = KvCacheType.F32 };
        var plan = MemoryPlan.Make(Yarn7B, WeightBytes, options, 22 * Gib, "VLLM_CPU_KVCACHE_SPACE");
        Assert.Equal(131072, plan.KvTokens);
        Assert.Equal(131072, plan.MaxModelLen);
        var e = Assert.Throws<MemoryPlanException>(() => MemoryPlan.Make(Yarn7B, WeightBytes, options, 12 * Gib, "VLLM_CPU_KVCACHE_SPACE"));
        Assert.Contains("the machine has 12.00 GiB available", e.Message);
        var small = Assert.Throws<MemoryPlanException>(() =>
            MemoryPlan.Make(Yarn7B, WeightBytes, options with { KvCacheBytes = 2 * Gib, MaxModelLen = 131072 }, null, "VLLM_CPU_KVCACHE_SPACE"));
        Assert.Contains("VLLM_CPU_KVCACHE_SPACE leaves 2.00 GiB (18720 tokens)", small.Message);
    }

    [Fact]
    public void WithoutARequestedLengthTheContextShrinksToTheBudget()
    {
        var plan = MemoryPlan.Make(Yarn7B, WeightBytes, new EngineOptions { KvCacheBytes = 2 * Gib, KvCacheType = KvCacheType.F32 }, null);
        Assert.Equal(2 * Gib / (16 * 114688) * 16, plan.MaxModelLen);
        Assert.Equal(MemoryPlan.FallbackKvBytes / (16 * 57344) * 16, MemoryPlan.Make(Yarn7B, WeightBytes, new EngineOptions(), null).KvTokens);
    }

    [Fact]
    public void Q8CacheNeedsHeadsOfWholeBlocks()
    {
        var e = Assert.Throws<MemoryPlanException>(() =>
            MemoryPlan.Make(TinyModels.Config("odd"), 1 << 20, new EngineOptions { KvCacheType = KvCacheType.Q8_0 }, 8 * Gib));
        Assert.Contains("multiple of 32; this model's is 16", e.Message);
    }

    /// <summary>Loading refuses before it reads a weight: the plan needs only the config.</summary>
    [Fact]
    public void LoadingIsRefusedBeforeTheWeights()
    {
        string path = TinyModels.Gguf("k256", GgmlType.Q8_0);
        var e = Assert.Throws<MemoryPlanException>(() => LoadedModel.Plan(path, new EngineOptions { MaxModelLen = 4096 }, 64L << 20));
        Assert.Contains("4096 tokens", e.Message);
        Assert.Contains("0.06 GiB available", e.Message);
    }

    /// <summary>A MoE model's step needs its expert buffers on top of what the same attention and dense MLP need: for
    /// Qwen2-57B-A14B per token 64 router scores, 8 gathered rows of 3584 with gate/up of 2560 each, the shared expert's
    /// gate/up of 20480 (values of 4 bytes).</summary>
    [Fact]
    public void MoeScratchCountsTheExpertBuffers()
    {
        var moe = QwenSharp.Model.Qwen2Config.FromFile(Fixtures.Config("qwen2-57b-a14b-instruct.json"));
        var dense = moe with { Architectures = [QwenSharp.Model.Qwen2Config.SupportedArchitecture] };
        long extra = MemoryPlan.Scratch(moe, 512, 4, 4096, 2) - MemoryPlan.Scratch(dense, 512, 4, 4096, 2);
        long buffers = 512L * (64 + 8 * (3584 + 2 * 2560) + 2 * 20480) * sizeof(float);
        Assert.InRange(extra, buffers, buffers * 3 / 2);
    }

    /// <summary>Qwen2-57B-A14B at Q4_K (about 32 GB) on a 24 GB machine: with an explicit KV budget (bench, or the server
    /// given VLLM_CPU_KVCACHE_SPACE) it runs from the memory map and says so; the KV cache and scratch must still fit; the
    /// server's automatic budget refuses and names the way to run it from the map.</summary>
    [Fact]
    public void WeightsLargerThanMemoryRunFromTheMapWhenTheKvCacheFits()
    {
        var moe = Qwen2Config.FromFile(Fixtures.Config("qwen2-57b-a14b-instruct.json"));
        long weights = 32L * 1000 * 1000 * 1000;
        var bench = new EngineOptions { MaxModelLen = 1040, MaxNumSeqs = 1, KvCacheBytes = KvCache.BytesPerToken(moe, KvCacheType.F16) * 1056 };
        var plan = MemoryPlan.Make(moe, weights, bench, 22 * Gib, "bench");
        Assert.True(plan.WeightsExceedMemory);
        Assert.Contains(plan.Describe(), line => line.StartsWith("Weights: 29.80 GiB do not fit", StringComparison.Ordinal) && line.Contains("memory map"));
        Assert.False(MemoryPlan.Make(moe, 4 * Gib, bench, 22 * Gib, "bench").WeightsExceedMemory);
        Assert.DoesNotContain(MemoryPlan.Make(moe, 4 * Gib, bench, 22 * Gib, "bench").Describe(), line => line.StartsWith("Weights:", StringComparison.Ordinal));

        var tooBig = Assert.Throws<MemoryPlanException>(() => MemoryPlan.Make(moe, weights, bench with { KvCacheBytes = 21 * Gib }, 22 * Gib, "bench"));
        Assert.Contains("the machine has 22.00 GiB available", tooBig.Message);

        var serve = Assert.Throws<MemoryPlanException>(() => MemoryPlan.Make(moe, weights, new EngineOptions { MaxModelLen = 4096 }, 22 * Gib));
        Assert.Contains("VLLM_CPU_KVCACHE_SPACE", serve.Message);
        Assert.Contains("weights 29.80 GiB", serve.Message);
    }
}
