using QwenSharp.Formats;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Formats;

public class GgufNamesTests
{
    // The qwen2 rows of llama.cpp's gguf-py tensor_mapping.py (MODEL_TENSOR → "model.layers.{bid}..." names).
    [Theory]
    [InlineData("model.embed_tokens.weight", "token_embd.weight")]
    [InlineData("model.norm.weight", "output_norm.weight")]
    [InlineData("lm_head.weight", "output.weight")]
    [InlineData("model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight")]
    [InlineData("model.layers.12.self_attn.q_proj.weight", "blk.12.attn_q.weight")]
    [InlineData("model.layers.12.self_attn.q_proj.bias", "blk.12.attn_q.bias")]
    [InlineData("model.layers.3.self_attn.k_proj.weight", "blk.3.attn_k.weight")]
    [InlineData("model.layers.3.self_attn.k_proj.bias", "blk.3.attn_k.bias")]
    [InlineData("model.layers.3.self_attn.v_proj.weight", "blk.3.attn_v.weight")]
    [InlineData("model.layers.3.self_attn.v_proj.bias", "blk.3.attn_v.bias")]
    [InlineData("model.layers.79.self_attn.o_proj.weight", "blk.79.attn_output.weight")]
    [InlineData("model.layers.5.post_attention_layernorm.weight", "blk.5.ffn_norm.weight")]
    [InlineData("model.layers.5.mlp.gate_proj.weight", "blk.5.ffn_gate.weight")]
    [InlineData("model.layers.5.mlp.up_proj.weight", "blk.5.ffn_up.weight")]
    [InlineData("model.layers.5.mlp.down_proj.weight", "blk.5.ffn_down.weight")]
    public void NamesMapBothWays(string hf, string gguf)
    {
        Assert.Equal(gguf, GgufNames.ToGguf(hf));
        Assert.Equal(hf, GgufNames.ToHuggingFace(gguf));
    }

    [Theory]
    [InlineData("model.layers.01.mlp.up_proj.weight")]
    [InlineData("model.layers.-1.mlp.up_proj.weight")]
    [InlineData("model.layers.x.mlp.up_proj.weight")]
    [InlineData("model.layers.0.mlp.experts.0.up_proj.weight")]
    [InlineData("model.layers.0.self_attn.rotary_emb.inv_freq")]
    [InlineData("blk.0.attn_q.weight")]
    [InlineData("model.layers.")]
    public void OtherNamesAreNotMapped(string name)
    {
        Assert.False(GgufNames.TryToGguf(name, out _));
        Assert.Throws<ArgumentException>(() => GgufNames.ToGguf(name));
    }

    [Theory]
    [InlineData("rope_freqs.weight")]
    [InlineData("blk.0.ffn_gate_exps.weight")]
    [InlineData("blk.00.attn_q.weight")]
    public void UnknownGgufNamesAreNotMapped(string name) => Assert.False(GgufNames.TryToHuggingFace(name, out _));

    [Theory]
    [InlineData("qwen2-0.5b-instruct.json")]
    [InlineData("qwen2-7b-instruct-yarn.json")]
    public void ConfigSurvivesTheGgufKeys(string fixture)
    {
        var original = Qwen2Config.FromFile(Fixtures.Config(fixture));
        using var dir = Fixtures.TempDir();
        var w = new GgufWriter();
        GgufNames.WriteConfig(original, w);
        w.SetArray(GgufNames.Keys.Tokens, GgufArray.Of(Enumerable.Range(0, 10).Select(i => $"t{i}").ToArray()));
        w.Write(dir.File("c.gguf"));

        using var file = GgufFile.Open(dir.File("c.gguf"));
        var back = Qwen2Config.FromGguf(file);
        back.Validate();
        Assert.Equal(original.HiddenSize, back.HiddenSize);
        Assert.Equal(original.IntermediateSize, back.IntermediateSize);
        Assert.Equal(original.NumHiddenLayers, back.NumHiddenLayers);
        Assert.Equal(original.NumAttentionHeads, back.NumAttentionHeads);
        Assert.Equal(original.NumKeyValueHeads, back.NumKeyValueHeads);
        Assert.Equal(original.MaxPositionEmbeddings, back.MaxPositionEmbeddings);
        Assert.Equal(original.RopeTheta, back.RopeTheta);
        Assert.Equal((float)original.RmsNormEps, (float)back.RmsNormEps);
        Assert.Equal(original.RopeScaling, back.RopeScaling);
        // No token_embd.weight here, so the vocabulary is the token list; no output.weight means tied.
        Assert.Equal(10, back.VocabSize);
        Assert.True(back.TieWordEmbeddings);
        if (original.RopeScaling != null)
        {
            Assert.Equal("yarn", file.Metadata.GetString("qwen2.rope.scaling.type"));
            Assert.Equal(4f, file.Metadata.GetFloat32("qwen2.rope.scaling.factor"));
            Assert.Equal(32768u, file.Metadata.GetUInt32("qwen2.rope.scaling.original_context_length"));
        }
    }

    [Fact]
    public void NonDefaultYarnBetasTravelAsLlamaCppKeys()
    {
        var c = new Qwen2Config { HiddenSize = 64, NumAttentionHeads = 4, NumKeyValueHeads = 4, RopeScaling = new RopeScaling("yarn", 2, 64, 16, 2) };
        using var dir = Fixtures.TempDir();
        var w = new GgufWriter();
        GgufNames.WriteConfig(c, w);
        w.SetUInt32(GgufNames.Keys.VocabSize, 100);
        w.Write(dir.File("b.gguf"));
        using var file = GgufFile.Open(dir.File("b.gguf"));
        Assert.Equal(16f, file.Metadata.GetFloat32("qwen2.rope.scaling.yarn_beta_fast"));
        Assert.Equal(new RopeScaling("yarn", 2, 64, 16, 2), Qwen2Config.FromGguf(file).RopeScaling);
        Assert.Equal(100, Qwen2Config.FromGguf(file).VocabSize);
    }

    [Fact]
    public void OtherGgufArchitecturesAreRefusedByName()
    {
        using var dir = Fixtures.TempDir();
        new GgufWriter().SetString("general.architecture", "llama").Write(dir.File("l.gguf"));
        using var file = GgufFile.Open(dir.File("l.gguf"));
        var e = Assert.Throws<FormatException>(() => Qwen2Config.FromGguf(file));
        Assert.Contains("llama", e.Message);
        Assert.Contains("Qwen2ForCausalLM", e.Message);
        Assert.Contains("l.gguf", e.Message);
    }

    [Fact]
    public void MissingHyperParameterNamesTheKey()
    {
        using var dir = Fixtures.TempDir();
        new GgufWriter().SetString("general.architecture", "qwen2").SetUInt32("qwen2.embedding_length", 64).Write(dir.File("m.gguf"));
        using var file = GgufFile.Open(dir.File("m.gguf"));
        var e = Assert.Throws<FormatException>(() => Qwen2Config.FromGguf(file));
        Assert.Contains("qwen2.attention.head_count", e.Message);
        Assert.Contains("m.gguf", e.Message);
    }

    [Fact]
    public void CheckpointServesHuggingFaceNamesAndKeepsUnmappedOnes()
    {
        using var dir = Fixtures.TempDir();
        new GgufWriter()
            .AddTensor("token_embd.weight", GgmlType.F32, [4, 2], s => s.Write(new byte[32]))
            .AddTensor("blk.0.attn_q.bias", GgmlType.F32, [2], s => s.Write(new byte[8]))
            .AddTensor("rope_freqs.weight", GgmlType.F32, [1], s => s.Write(new byte[4]))
            .Write(dir.File("c.gguf"));
        using var c = GgufCheckpoint.Open(dir.File("c.gguf"));
        Assert.Equal(["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.bias", "rope_freqs.weight"], c.TensorNames.Order());
        Assert.Equal("model.embed_tokens.weight", c.Get("model.embed_tokens.weight").Name);
        unsafe { Assert.True(c.File.Get("token_embd.weight").Pointer == c.Get("model.embed_tokens.weight").Pointer); }
        var e = Assert.Throws<FormatException>(() => c.Get("lm_head.weight"));
        Assert.Contains("output.weight", e.Message);
        Assert.Contains("c.gguf", e.Message);
    }
}
