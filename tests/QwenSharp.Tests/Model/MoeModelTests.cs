using QwenSharp.Formats;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Model;

/// <summary>
/// Qwen2-MoE files and the grouped expert pass: the safetensors twin of a GGUF file (per-expert matrices against
/// llama.cpp's stacks) gives the same logits; decode, batching and prefill agree (their tokens group differently by
/// expert); the GGUF layout is llama.cpp's. Logits against llama.cpp itself: <see cref="LlamaCppFidelityTests"/>.
/// </summary>
public class MoeModelTests
{
    [Fact]
    public void SafetensorsTwinGivesTheSameLogits()
    {
        using var gguf = ModelFiles.Load(TinyModels.Gguf("moe-odd", GgmlType.F32));
        using var folder = ModelFiles.Load(TinyModels.Folder("moe-odd", GgmlType.F32, maxShardBytes: 256 << 10));
        Assert.True(gguf.Config.IsMoe && folder.Config.IsMoe);
        var tokens = TinyModels.Tokens(32, gguf.Config.VocabSize, seed: 3);
        var (diff, _) = TinyModels.Compare(TinyModels.Logits(folder, tokens), TinyModels.Logits(gguf, tokens));
        Assert.Equal(0, diff);
    }

    [Theory]
    [InlineData("moe-odd")]
    [InlineData("moe")]
    public void DecodeAndBatchesMatchPrefill(string shape)
    {
        using var model = ModelFiles.Load(TinyModels.Gguf(shape, GgmlType.F32));
        var a = TinyModels.Tokens(20, model.Config.VocabSize, seed: 5);
        var b = TinyModels.Tokens(7, model.Config.VocabSize, seed: 6);
        var aloneA = TinyModels.Logits(model, a);
        var aloneB = TinyModels.Logits(model, b);
        var decodedA = TinyModels.DecodeLogits(model, a, KvCacheType.F32);
        for (int i = 0; i < a.Length; i++) AssertClose(aloneA[i], decodedA[i]);

        // A's prefill and B's first token in one step, then B decoded beside nothing: their tokens share experts.
        var cache = new KvCache(model.Config.NumHiddenLayers, model.Config.NumKeyValueHeads, model.Config.HeadDim, numBlocks: 8, blockSize: 4);
        int[] tableA = [6, 0, 2, 4, 7], tableB = [5, 1];
        int vocab = model.Config.VocabSize;
        var batch = new ForwardBatch().Add(a, 0, tableA, LogitsWanted.All).Add(b.AsMemory(0, 1), 0, tableB, LogitsWanted.Last);
        var first = model.Forward(batch, cache).ToArray();
        for (int i = 0; i < a.Length; i++) AssertClose(aloneA[i], first.AsSpan(i * vocab, vocab));
        AssertClose(aloneB[0], first.AsSpan(a.Length * vocab, vocab));
        var rest = model.Forward(new ForwardBatch().Add(b.AsMemory(1), 1, tableB, LogitsWanted.All), cache).ToArray();
        for (int i = 1; i < b.Length; i++) AssertClose(aloneB[i], rest.AsSpan((i - 1) * vocab, vocab));
    }

    /// <summary>A one-token step's three jobs (router with shared gate/up, chosen experts' gate/up, all downs) give bitwise
    /// the grouped path's output: the same kernels on the same rows, the same sums in the same order. "moe" is large
    /// enough for the jobs to go to the pool, "moe-odd" (rows not whole units of 4) runs them on the calling thread.</summary>
    [Theory]
    [InlineData("moe", GgmlType.F32)]
    [InlineData("moe", GgmlType.Q8_0)]
    [InlineData("moe", GgmlType.Q4_0)]
    [InlineData("moe", GgmlType.Q4_K)]
    [InlineData("moe-odd", GgmlType.Q8_0)]
    [InlineData("moe-odd", GgmlType.F16)]
    public void OneTokenInThreeJobsMatchesTheGroupedPathBitwise(string shape, GgmlType type)
    {
        using var model = ModelFiles.Load(TinyModels.Gguf(shape, type));
        int hidden = model.Config.HiddenSize;
        var fused = new MoeFeedForward(model.Config) { FusedDecode = true };
        var grouped = new MoeFeedForward(model.Config) { FusedDecode = false };
        var rng = new Random(9);
        int differing = 0;
        for (int trial = 0; trial < 8; trial++)
        {
            var x = Enumerable.Range(0, hidden).Select(_ => (float)rng.NextDouble() * 2 - 1).ToArray();
            foreach (var layer in model.Weights.layers)
            {
                var a = new float[hidden];
                var b = new float[hidden];
                fused.Apply(layer.mlp!, x, a, 1);
                grouped.Apply(layer.mlp!, x, b, 1);
                for (int i = 0; i < hidden; i++)
                    if (BitConverter.SingleToInt32Bits(a[i]) != BitConverter.SingleToInt32Bits(b[i])) differing++;
                Assert.Contains(a, v => v != 0);
            }
        }
        Assert.Equal(0, differing);
    }

    /// <summary>The expert pass allocates once, for the largest step it has seen, and then never per step. The shared
    /// worker pool hands parts to whichever thread claims them first, so the calling thread may meet a kind of part (and
    /// size its thread-local scratch for it) only in a later round on a loaded machine: rounds of steps of 1..8 tokens
    /// run until one allocates nothing on this thread (a per-step allocation never lets that happen), then three more
    /// rounds must allocate nothing either.</summary>
    [Fact]
    public void TheExpertPassAllocatesNothingAfterWarmUp()
    {
        using var model = ModelFiles.Load(TinyModels.Gguf("moe", GgmlType.Q8_0));
        int hidden = model.Config.HiddenSize;
        var moe = new MoeFeedForward(model.Config);
        var block = model.Weights.layers[0].mlp!;
        var rng = new Random(5);
        var x = Enumerable.Range(0, 8 * hidden).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var y = new float[8 * hidden];
        moe.Apply(block, x, y, 8);
        long Round()
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int tokens = 1; tokens <= 8; tokens++)
                moe.Apply(block, x.AsSpan(0, tokens * hidden), y.AsSpan(0, tokens * hidden), tokens);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        int warmUp = 1;
        while (Round() != 0) Assert.True(++warmUp <= 10, "Every round of steps allocates on the calling thread.");
        for (int i = 0; i < 3; i++) Assert.Equal(0, Round());
    }

    /// <summary>convert_hf_to_gguf.py's layout: general.architecture qwen2moe, the expert keys, and per layer one stack per
    /// projection with ggml ne [n_embd, n_ff_exp, n_expert] (gate, up) and [n_ff_exp, n_embd, n_expert] (down), the router
    /// ffn_gate_inp F32 [n_embd, n_expert], the shared expert's gate a vector ffn_gate_inp_shexp [n_embd].</summary>
    [Fact]
    public void GgufLayoutIsLlamaCpps()
    {
        var c = TinyModels.Config("moe");
        using var file = GgufFile.Open(TinyModels.Gguf("moe", GgmlType.Q4_K));
        var m = file.Metadata;
        Assert.Equal("qwen2moe", m.GetString("general.architecture"));
        Assert.Equal(8u, m.GetUInt32("qwen2moe.expert_count"));
        Assert.Equal(4u, m.GetUInt32("qwen2moe.expert_used_count"));
        Assert.Equal(256u, m.GetUInt32("qwen2moe.expert_feed_forward_length"));
        Assert.Equal(512u, m.GetUInt32("qwen2moe.expert_shared_feed_forward_length"));
        Assert.Equal(256u, m.GetUInt32("qwen2moe.embedding_length"));
        Assert.False(m.TryGetUInt32("qwen2.embedding_length", out _));
        // TensorView shapes are outermost first: the reverse of ggml's ne.
        Assert.Equal([8L, 256, 256], file.Tensors.Single(t => t.Name == "blk.1.ffn_gate_exps.weight").Shape);
        Assert.Equal([8L, 256, 256], file.Tensors.Single(t => t.Name == "blk.1.ffn_down_exps.weight").Shape);
        Assert.Equal(GgmlType.Q4_K, file.Tensors.Single(t => t.Name == "blk.1.ffn_up_exps.weight").Type);
        var router = file.Tensors.Single(t => t.Name == "blk.0.ffn_gate_inp.weight");
        Assert.Equal(GgmlType.F32, router.Type);
        Assert.Equal([8L, 256], router.Shape);
        var sharedGate = file.Tensors.Single(t => t.Name == "blk.0.ffn_gate_inp_shexp.weight");
        Assert.Equal(GgmlType.F32, sharedGate.Type);
        Assert.Equal([256L], sharedGate.Shape);
        Assert.Equal([512L, 256], file.Tensors.Single(t => t.Name == "blk.0.ffn_gate_shexp.weight").Shape);
        Assert.DoesNotContain(file.Tensors, t => t.Name.Contains("experts", StringComparison.Ordinal));
        Assert.Equal(c.NumHiddenLayers * 3, file.Tensors.Count(t => t.Name.EndsWith("_exps.weight", StringComparison.Ordinal)));

        var back = Qwen2Config.FromGguf(file);
        Assert.Equal((true, 8, 4, 256, 512, false), (back.IsMoe, back.NumExperts, back.NumExpertsPerTok, back.MoeIntermediateSize, back.SharedExpertIntermediateSize, back.NormTopkProb));
    }

    /// <summary>What llama.cpp's qwen2moe cannot run is not written as one.</summary>
    [Fact]
    public void HuggingFaceOnlyMoeIsNotWrittenAsGguf()
    {
        using var dir = Fixtures.TempDir();
        var c = TinyModels.Config("moe-hf");
        var e = Assert.Throws<ArgumentException>(() => RandomModel.WriteGguf(c, dir.File("x.gguf"), GgmlType.F32, 1, GgufTokenizerExport.BytesOnly(c.VocabSize)));
        Assert.Contains("norm_topk_prob", e.Message);
        e = Assert.Throws<ArgumentException>(() => RandomModel.WriteGguf(c with { NormTopkProb = false }, dir.File("y.gguf"), GgmlType.F32, 1, GgufTokenizerExport.BytesOnly(c.VocabSize)));
        Assert.Contains("layer 0 has a dense MLP", e.Message);
    }

    [Fact]
    public void ExpertNamesMapBothWays()
    {
        Assert.True(GgufNames.TryExpertMatrix("model.layers.12.mlp.experts.59.down_proj.weight", out string stack, out int expert));
        Assert.Equal(("blk.12.ffn_down_exps.weight", 59), (stack, expert));
        Assert.True(GgufNames.TryExpertStack(stack, out int layer, out string projection));
        Assert.Equal((12, "down_proj"), (layer, projection));
        Assert.Equal("model.layers.12.mlp.experts.59.down_proj.weight", GgufNames.ExpertName(layer, expert, projection));
        Assert.False(GgufNames.TryExpertMatrix("model.layers.1.mlp.experts.01.up_proj.weight", out _, out _));
        Assert.False(GgufNames.TryExpertMatrix("model.layers.1.mlp.experts.1.up_proj.bias", out _, out _));
        Assert.Equal("blk.3.ffn_gate_inp.weight", GgufNames.ToGguf("model.layers.3.mlp.gate.weight"));
        Assert.Equal("model.layers.3.mlp.shared_expert_gate.weight", GgufNames.ToHuggingFace("blk.3.ffn_gate_inp_shexp.weight"));
        Assert.Equal("model.layers.3.mlp.shared_expert.down_proj.weight", GgufNames.ToHuggingFace("blk.3.ffn_down_shexp.weight"));
    }

    [Fact]
    public void AMissingExpertIsNamed()
    {
        using var dir = Fixtures.TempDir();
        string folder = TinyModels.Folder("moe-odd", GgmlType.F32);
        foreach (var f in Directory.GetFiles(folder)) File.Copy(f, Path.Combine(dir.Path, Path.GetFileName(f)));
        var config = Qwen2Config.FromFile(Path.Combine(dir.Path, "config.json"));
        File.WriteAllText(Path.Combine(dir.Path, "config.json"), (config with { NumExperts = 7 }).ToJson());
        var e = Assert.Throws<FormatException>(() => ModelFiles.Load(dir.Path));
        Assert.Contains("model.layers.0.mlp.gate.weight has shape [6, 96]", e.Message);
    }

    /// <summary>
    /// Exact ties in the router: expert e &lt; 16 gets the router row of expert e % 3, so those experts score in three tied
    /// groups and 3 experts per token cut through a group. Which members llama.cpp takes follows its argsort (std::sort
    /// of the indices, <see cref="TopK"/>): an insertion sort for 8 experts (lower indices first), an introsort for 20
    /// (not simply the lower indices). The logits show whether ours took the same experts (another expert's output moves
    /// them far beyond the F32 bound). Experts 16 and up are not tied: llama.cpp's softmax takes exp of whole SIMD blocks
    /// with a vector exp and of the rest with the C library's, so equal logits on both sides of position 16 do not give
    /// equal probabilities there (20 experts tied as e % 3 all through fail this test for that reason alone).
    /// </summary>
    [Theory]
    [InlineData("moe", 8)]
    [InlineData("moe-odd", 20)]
    public unsafe void TiedExpertsAreChosenAsLlamaCppChooses(string shape, int experts)
    {
        using var dir = Fixtures.TempDir();
        string path = dir.File("tied.gguf");
        var c = TinyModels.Config(shape) with { NumExperts = experts, NumExpertsPerTok = 3 };
        RandomModel.WriteGguf(c, dir.File("source.gguf"), GgmlType.F32, 7, GgufTokenizerExport.BytesOnly(c.VocabSize));
        using (var source = GgufFile.Open(dir.File("source.gguf")))
        {
            var writer = new GgufWriter();
            foreach (string key in source.Metadata.Keys) writer.Set(key, source.Metadata.GetValue(key));
            foreach (var t in source.Tensors)
            {
                var bytes = new ReadOnlySpan<byte>(t.Pointer, checked((int)t.ByteLength)).ToArray();
                int row = bytes.Length / experts;
                if (t.Name.EndsWith("ffn_gate_inp.weight", StringComparison.Ordinal))
                    for (int e = 3; e < Math.Min(experts, 16); e++) bytes.AsSpan(e % 3 * row, row).CopyTo(bytes.AsSpan(e * row));
                writer.AddTensor(t.Name, t.Type, t.Shape, s => s.Write(bytes));
            }
            writer.Write(path);
        }

        using var model = ModelFiles.Load(path);
        var tokens = TinyModels.Tokens(64, c.VocabSize, seed: 4);
        var ours = TinyModels.Logits(model, tokens);
        float[][] reference;
        using (var llama = new Oracles.LlamaCpp(path, contextSize: 128))
            reference = llama.Logits(tokens);
        var (diff, scale) = TinyModels.Compare(ours, reference);
        Assert.True(diff <= 1e-4 * scale, $"max|Δ| {diff:E3} exceeds 1e-4·{scale:F3}");
    }

    private static void AssertClose(float[] expected, ReadOnlySpan<float> actual)
    {
        for (int v = 0; v < expected.Length; v++)
            Assert.True(Math.Abs(expected[v] - actual[v]) <= 1e-4f * (1 + Math.Abs(expected[v])), $"logit {v}: {actual[v]} vs {expected[v]}");
    }
}
