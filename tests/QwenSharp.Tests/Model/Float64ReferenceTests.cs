using QwenSharp.Model;
using QwenSharp.Tensors;
using QwenSharp.Tests.Oracles;

namespace QwenSharp.Tests.Model;

/// <summary>Our fp32 forward pass against a plain float64 transcription of modeling_qwen2.py (incl. vLLM's YaRN).</summary>
public class Float64ReferenceTests
{
    [Theory]
    [InlineData("tiny")]
    [InlineData("gqa7")]
    [InlineData("yarn")]
    public void LogitsMatchAFloat64Pass(string shape)
    {
        var (weights, config) = ModelFiles.Open(TinyModels.Gguf(shape, GgmlType.F32));
        using var model = new Qwen2Model(weights, config);
        var tokens = TinyModels.Tokens(48, config.VocabSize, seed: 9);
        var ours = TinyModels.Logits(model, tokens);
        var exact = NaiveQwen2.Logits(weights, config, tokens).Select(r => r.Select(v => (float)v).ToArray()).ToArray();
        var (diff, scale) = TinyModels.Compare(ours, exact);
        Assert.True(diff <= 1e-5 * scale, $"{shape}: max|Δ| {diff:E3} vs max|logit| {scale:F3}");
    }

    /// <summary>Qwen2-MoE against modeling_qwen2_moe.py in float64: from GGUF (every layer sparse, as llama.cpp) and from a
    /// Hugging Face folder for what only transformers runs (norm_topk_prob, dense layers by mlp_only_layers and
    /// decoder_sparse_step).</summary>
    [Theory]
    [InlineData("moe-odd", false)]
    [InlineData("moe-hf", true)]
    public void MoeLogitsMatchAFloat64Pass(string shape, bool folder)
    {
        var (weights, config) = ModelFiles.Open(folder ? TinyModels.Folder(shape, GgmlType.F32) : TinyModels.Gguf(shape, GgmlType.F32));
        using var model = new Qwen2Model(weights, config);
        var tokens = TinyModels.Tokens(48, config.VocabSize, seed: 9);
        var ours = TinyModels.Logits(model, tokens);
        var exact = NaiveQwen2.Logits(weights, config, tokens).Select(r => r.Select(v => (float)v).ToArray()).ToArray();
        var (diff, scale) = TinyModels.Compare(ours, exact);
        Assert.True(diff <= 1e-5 * scale, $"{shape}: max|Δ| {diff:E3} vs max|logit| {scale:F3}");
    }
}
