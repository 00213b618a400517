using System.Runtime.InteropServices;
using LLama;
using LLama.Common;
using LLama.Native;
using QwenSharp.Formats;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Formats;

/// <summary>
/// llama.cpp (LLamaSharp 0.30.0) is the reference reader for <see cref="GgufWriter"/>: it must load a tiny qwen2
/// model written here, with tensors of several types, and report the hyper-parameters and metadata we wrote.
/// llama.cpp checks every tensor's shape against the architecture, so a dims-order mistake fails the load.
/// </summary>
public class LlamaCppLoadsGgufTests
{
    private static readonly Qwen2Config Tiny = new()
    {
        Origin = "tiny", VocabSize = 256, HiddenSize = 64, IntermediateSize = 96, NumHiddenLayers = 2,
        NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 128, RopeTheta = 10000, RmsNormEps = 1e-5,
        TieWordEmbeddings = false, RopeScaling = new RopeScaling("yarn", 4, 32),
    };

    /// <summary>GPT-2's byte-to-unicode table: the 256 byte tokens of a byte-level BPE vocabulary.</summary>
    private static string[] ByteTokens()
    {
        var tokens = new string[256];
        int extra = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= 33 and <= 126 or >= 161 and <= 172 or >= 174 and <= 255;
            tokens[b] = ((char)(printable ? b : 256 + extra++)).ToString();
        }
        return tokens;
    }

    private static TensorSpec Random(string hfName, GgmlType type, long[] shape, Random rng)
    {
        var spec = new TensorSpec(GgufNames.ToGguf(hfName), type, shape, _ => { });
        var bytes = new byte[spec.ByteLength];
        if (type == GgmlType.F32)
            foreach (ref float v in MemoryMarshal.Cast<byte, float>(bytes.AsSpan())) v = (float)(rng.NextDouble() - 0.5);
        else
            rng.NextBytes(bytes);
        return spec with { WriteData = s => s.Write(bytes) };
    }

    private static long WriteTinyModel(string path)
    {
        var c = Tiny;
        var w = new GgufWriter();
        GgufNames.WriteConfig(c, w);
        w.SetString(GgufNames.Keys.GeneralName, "tiny");
        w.SetString(GgufNames.Keys.TokenizerModel, "gpt2").SetString(GgufNames.Keys.TokenizerPre, "qwen2");
        w.SetArray(GgufNames.Keys.Tokens, GgufArray.Of(ByteTokens()));
        w.SetArray(GgufNames.Keys.TokenType, GgufArray.Of(Enumerable.Repeat(1, 256).ToArray()));
        w.SetArray(GgufNames.Keys.Merges, GgufArray.Of(Array.Empty<string>()));
        w.SetUInt32(GgufNames.Keys.BosTokenId, 11).SetUInt32(GgufNames.Keys.EosTokenId, 10);
        w.Set("test.u8", (byte)200).Set("test.i8", (sbyte)-100).Set("test.u16", (ushort)60000).Set("test.i16", (short)-30000)
            .Set("test.u32", 4000000000u).Set("test.i32", -2000000000).Set("test.f32", 1.5f).Set("test.bool", true)
            .Set("test.u64", 18000000000000000000UL).Set("test.i64", -9000000000000000000L).Set("test.f64", 0.25);

        var rng = new Random(7);
        int h = c.HiddenSize, q = c.NumAttentionHeads * c.HeadDim, kv = c.KeyValueSize, ff = c.IntermediateSize;
        var specs = new List<TensorSpec> { Random("model.embed_tokens.weight", GgmlType.F16, [c.VocabSize, h], rng) };
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.";
            specs.Add(Random(p + "input_layernorm.weight", GgmlType.F32, [h], rng));
            specs.Add(Random(p + "self_attn.q_proj.weight", GgmlType.Q8_0, [q, h], rng));
            specs.Add(Random(p + "self_attn.q_proj.bias", GgmlType.F32, [q], rng));
            specs.Add(Random(p + "self_attn.k_proj.weight", GgmlType.F16, [kv, h], rng));
            specs.Add(Random(p + "self_attn.k_proj.bias", GgmlType.F32, [kv], rng));
            specs.Add(Random(p + "self_attn.v_proj.weight", GgmlType.BF16, [kv, h], rng));
            specs.Add(Random(p + "self_attn.v_proj.bias", GgmlType.F32, [kv], rng));
            specs.Add(Random(p + "self_attn.o_proj.weight", GgmlType.Q4_0, [h, q], rng));
            specs.Add(Random(p + "post_attention_layernorm.weight", GgmlType.F32, [h], rng));
            specs.Add(Random(p + "mlp.gate_proj.weight", GgmlType.Q4_1, [ff, h], rng));
            specs.Add(Random(p + "mlp.up_proj.weight", GgmlType.Q5_0, [ff, h], rng));
            specs.Add(Random(p + "mlp.down_proj.weight", GgmlType.F32, [h, ff], rng));
        }
        specs.Add(Random("model.norm.weight", GgmlType.F32, [h], rng));
        specs.Add(Random("lm_head.weight", GgmlType.Q8_0, [c.VocabSize, h], rng));
        foreach (var s in specs) w.AddTensor(s);
        w.Write(path);
        return specs.Sum(s => s.Shape.Aggregate(1L, (a, b) => a * b));
    }

    [Fact]
    public void LlamaCppLoadsATinyQwen2ModelWrittenHereAndReadsItsMetadata()
    {
        using var dir = Fixtures.TempDir();
        string path = dir.File("tiny.gguf");
        long parameters = WriteTinyModel(path);

        NativeLogConfig.llama_log_set((level, message) => { });
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(path) { GpuLayerCount = 0 });
        Assert.Equal(Tiny.HiddenSize, weights.EmbeddingSize);
        Assert.Equal(Tiny.MaxPositionEmbeddings, weights.ContextSize);
        Assert.Equal(Tiny.VocabSize, weights.Vocab.Count);
        Assert.Equal((ulong)parameters, weights.ParameterCount);

        // Values as llama.cpp's gguf_kv_to_str renders them.
        var m = weights.Metadata;
        Assert.Equal("qwen2", m["general.architecture"]);
        Assert.Equal("yarn", m["qwen2.rope.scaling.type"]);
        Assert.Equal("32", m["qwen2.rope.scaling.original_context_length"]);
        Assert.Equal("2", m["qwen2.attention.head_count_kv"]);
        Assert.Equal("200", m["test.u8"]);
        Assert.Equal("-100", m["test.i8"]);
        Assert.Equal("60000", m["test.u16"]);
        Assert.Equal("-30000", m["test.i16"]);
        Assert.Equal("4000000000", m["test.u32"]);
        Assert.Equal("-2000000000", m["test.i32"]);
        Assert.Equal("1.500000", m["test.f32"]);
        Assert.Equal("true", m["test.bool"]);
        Assert.Equal("18000000000000000000", m["test.u64"]);
        Assert.Equal("-9000000000000000000", m["test.i64"]);
        Assert.Equal("0.250000", m["test.f64"]);

        // And our own reader agrees with the file llama.cpp accepted.
        using var checkpoint = GgufCheckpoint.Open(path);
        var config = Qwen2Config.FromGguf(checkpoint.File);
        config.Validate();
        Assert.Equal(Tiny with { Origin = path, EosTokenIds = [], MaxWindowLayers = 0, SlidingWindow = null, RmsNormEps = 0 },
            config with { EosTokenIds = [], MaxWindowLayers = 0, SlidingWindow = null, RmsNormEps = 0, BosTokenId = null, Architectures = Tiny.Architectures });
        Assert.Equal((float)Tiny.RmsNormEps, (float)config.RmsNormEps);
        Assert.Equal([10], config.EosTokenIds);
        Assert.Equal(11, config.BosTokenId);
        Assert.Equal([64L, 96L], checkpoint.Get("model.layers.1.mlp.down_proj.weight").Shape);
        Assert.Equal(GgmlType.Q4_0, checkpoint.Get("model.layers.0.self_attn.o_proj.weight").Type);
        Assert.Equal(parameters, checkpoint.TensorNames.Sum(n => checkpoint.Get(n).ElementCount));
    }
}
