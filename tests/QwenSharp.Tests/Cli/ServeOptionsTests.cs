using QwenSharp.Cli;
using QwenSharp.Cli.Commands;
using QwenSharp.Engine;
using QwenSharp.Generation;
using QwenSharp.Server.Backend;
using QwenSharp.Tensors;
using QwenSharp.Tests.Model;

namespace QwenSharp.Tests.Cli;

/// <summary>`qwensharp serve`'s engine flags under vLLM's names: parsed, refused with the value and the limit, and
/// honoured by the engine the server runs on.</summary>
public class ServeOptionsTests
{
    private static Server.ServerOptions Read(params string[] args) =>
        ServeCommand.ReadOptions(new CliArgs(args, new ServeCommand().Flags));

    [Fact]
    public void DefaultsLeaveTheEngineItsOwn()
    {
        var o = Read("--model", "m.gguf");
        Assert.Null(o.MaxNumBatchedTokens);
        Assert.Null(o.BlockSize);
        Assert.True(o.EnablePrefixCaching);
    }

    [Fact]
    public void ReadsTheEngineFlags()
    {
        var o = Read("--model", "m.gguf", "--max-num-seqs", "8", "--max-num-batched-tokens", "256", "--block-size", "32",
            "--no-enable-prefix-caching");
        Assert.Equal(256, o.MaxNumBatchedTokens);
        Assert.Equal(32, o.BlockSize);
        Assert.False(o.EnablePrefixCaching);
        Assert.True(Read("--model", "m.gguf", "--enable-prefix-caching").EnablePrefixCaching);
    }

    [Fact]
    public void ReadsTheSafetyFlags()
    {
        var d = Read("--model", "m.gguf");
        Assert.Equal(8L << 20, d.MaxRequestBytes);
        Assert.Equal(256, d.MaxWaitingRequests);
        Assert.Empty(d.AllowedHosts);
        var o = Read("--model", "m.gguf", "--max-request-bytes", "65536", "--max-waiting-requests", "0",
            "--allowed-hosts", "box.lan,ai.example", "--allowed-hosts", "other.lan");
        Assert.Equal(65536, o.MaxRequestBytes);
        Assert.Equal(0, o.MaxWaitingRequests);
        Assert.Equal(["box.lan", "ai.example", "other.lan"], o.AllowedHosts);
    }

    [Theory]
    [InlineData("--block-size 12", "must be 1, 8, 16, 32, 64 or 128, got 12")]
    [InlineData("--block-size 256", "between 1 and 128, got 256")]
    [InlineData("--max-num-seqs 8 --max-num-batched-tokens 4", "--max-num-batched-tokens (4) must be at least --max-num-seqs (8)")]
    [InlineData("--max-num-batched-tokens x", "must be an integer, got 'x'")]
    [InlineData("--enable-prefix-caching --no-enable-prefix-caching", "contradict")]
    [InlineData("--max-request-bytes 10", "between 1024 and 1073741824, got 10")]
    [InlineData("--max-waiting-requests -1", "between 0 and 1048576, got -1")]
    public void RefusesBadValuesNamingThem(string flags, string message)
    {
        var e = Assert.Throws<CliException>(() => Read(["--model", "m.gguf", .. flags.Split(' ')]));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData(null, KvCacheType.F16)]
    [InlineData("f32", KvCacheType.F32)] [InlineData("f16", KvCacheType.F16)] [InlineData("bf16", KvCacheType.BF16)] [InlineData("q8_0", KvCacheType.Q8_0)]
    [InlineData("auto", KvCacheType.F16)] [InlineData("fp16", KvCacheType.F16)] [InlineData("bfloat16", KvCacheType.BF16)] [InlineData("fp32", KvCacheType.F32)]
    public void ReadsTheKvCacheTypeInEitherSpelling(string? value, KvCacheType expected)
    {
        string[] args = value == null ? ["--model", "m.gguf"] : ["--model", "m.gguf", "--kv-cache-dtype", value];
        Assert.Equal(expected, Read(args).KvCacheType);
    }

    [Theory]
    [InlineData("--kv-cache-dtype fp8", "'fp8' is not supported; the supported types are f32, f16, bf16, q8_0")]
    [InlineData("--kv-cache-dtype fp8_e5m2", "'fp8_e5m2' is not supported")]
    [InlineData("--kv-cache-dtype q4_0", "'q4_0' is not supported")]
    [InlineData("-ctk q8_0 -ctv f16", "--cache-type-k q8_0 and --cache-type-v f16 differ")]
    public void RefusesKvCacheTypesItDoesNotHave(string flags, string message)
    {
        var e = Assert.Throws<CliException>(() => Read(["--model", "m.gguf", .. flags.Split(' ')]));
        Assert.Contains(message, e.Message);
    }

    /// <summary>The server's cache is of the type asked for, and sized in that type's bytes: the same budget holds twice
    /// the f32 tokens in f16 and 64/17 of them in q8_0 (34 bytes per 32 values).</summary>
    [Theory]
    [InlineData("f32", 4)]
    [InlineData("f16", 2)]
    [InlineData("q8_0", 34.0 / 32)]
    public void TheServersCacheHasTheType(string type, double bytesPerValue)
    {
        string path = TinyModels.Gguf("k256", GgmlType.Q8_0);
        var options = Read("--model", path, "--kv-cache-dtype", type) with { KvCacheBytes = 32 << 20 };
        using var backend = (LoadedModelBackend)ModelBackendFactory.Create(options);
        var engine = backend.Model.Engine;
        var c = backend.Model.Model.Config;
        Assert.Equal(KvCacheTypes.Parse(type), engine.KvCacheType);
        long perToken = (long)(2 * c.NumHiddenLayers * c.KeyValueSize * bytesPerValue);
        Assert.Equal((32 << 20) / perToken, engine.KvCacheTokens, tolerance: 16);
    }

    [Theory]
    [InlineData("1.5", 3L << 29)]
    [InlineData("4", 4L << 30)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void KvCacheSpaceIsGibibytes(string? value, long? bytes) => Assert.Equal(bytes, ServeCommand.KvCacheSpace(value));

    [Theory]
    [InlineData("0")]
    [InlineData("-2")]
    [InlineData("lots")]
    public void RefusesABadKvCacheSpace(string value)
    {
        var e = Assert.Throws<CliException>(() => ServeCommand.KvCacheSpace(value));
        Assert.Contains($"'{value}'", e.Message);
    }

    /// <summary>The same 30-token prompt twice: with prefix caching the second run finds its whole blocks in the cache
    /// (all but the last token may be reused: 24 tokens in blocks of 8, 16 in blocks of 16), without it none.</summary>
    [Theory]
    [InlineData(true, 8, 24)]
    [InlineData(true, 16, 16)]
    [InlineData(false, 8, 0)]
    public async Task TheServersEngineTakesThem(bool prefixCaching, int blockSize, int expectedHits)
    {
        string path = TinyModels.Gguf("gqa7", GgmlType.Q8_0);
        var options = Read("--model", path, "--block-size", blockSize.ToString(), "--max-num-batched-tokens", "64",
            prefixCaching ? "--enable-prefix-caching" : "--no-enable-prefix-caching") with { KvCacheBytes = 8 << 20 };
        using var backend = (LoadedModelBackend)ModelBackendFactory.Create(options);
        var model = backend.Model;
        Assert.Equal(8 << 20, model.Engine.KvCacheBytes, tolerance: 1 << 16);
        var prompt = TinyModels.Tokens(30, model.Model.Config.VocabSize, seed: 5);
        var greedy = new SamplingParams { Temperature = 0, MaxTokens = 1, IgnoreEos = true };
        for (int run = 0; run < 2; run++)
            await foreach (var _ in model.GenerateAsync(prompt, model.Resolve(greedy, prompt.Length))) { }
        Assert.Equal(expectedHits, model.Engine.Stats.PrefixHitTokens);
        Assert.Equal(64, model.Engine.MaxNumBatchedTokens);
    }

    [Fact]
    public void TheServersStepSizeDefaultsTo256()
    {
        var options = Read("--model", TinyModels.Gguf("gqa7", GgmlType.Q8_0)) with { KvCacheBytes = 8 << 20 };
        using var backend = (LoadedModelBackend)ModelBackendFactory.Create(options);
        Assert.Equal(Server.ServerOptions.DefaultMaxNumBatchedTokens, backend.Model.Engine.MaxNumBatchedTokens);
        Assert.Equal(256, Server.ServerOptions.DefaultMaxNumBatchedTokens);
    }
}
