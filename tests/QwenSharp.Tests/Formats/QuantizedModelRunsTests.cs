using QwenSharp.Model;
using QwenSharp.Quantization;
using QwenSharp.Tensors;
using QwenSharp.Tests.Model;
using QwenSharp.Tests.Oracles;
using Xunit.Abstractions;

namespace QwenSharp.Tests.Formats;

/// <summary>
/// A file `quantize` writes is a model both engines run: loaded by our model and by llama.cpp, the logits at every
/// position of a 48-token sequence agree within the bound the fidelity tests use for block-quantized weights (3e-2
/// of max|logit|; both quantize activations to 8-bit blocks before the integer dots).
/// </summary>
public class QuantizedModelRunsTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("k256", "Q4_K_M")]
    [InlineData("k256", "Q5_K_S")]
    [InlineData("k256", "Q6_K")]
    [InlineData("odd", "Q8_0")]
    [InlineData("odd", "Q4_0")]
    [InlineData("k256", "IQ4_XS")]
    [InlineData("odd", "IQ4_NL")]
    [InlineData("k256", "Q3_K_M")]
    [InlineData("k256", "Q2_K")]
    [InlineData("moe", "Q4_K_M")]
    [InlineData("moe", "Q5_0")]
    public void OursAndLlamaCppRunTheQuantizedFileAlike(string shape, string typeName)
    {
        using var dir = Fixtures.TempDir();
        string path = dir.File("q.gguf");
        GgufQuantizer.Run(TinyModels.Gguf(shape, GgmlType.F32), path, new QuantizeOptions(QuantizeFileTypes.Parse(typeName)) { Threads = 2 });
        using var model = ModelFiles.Load(path);
        var tokens = TinyModels.Tokens(48, model.Config.VocabSize, seed: 4);
        var ours = TinyModels.Logits(model, tokens);
        float[][] reference;
        using (var llama = new LlamaCpp(path, contextSize: 64))
            reference = llama.Logits(tokens);
        var (diff, scale) = TinyModels.Compare(ours, reference);
        output.WriteLine($"{shape} {typeName}: max|Δ| = {diff:E3}, max|logit| = {scale:F3}, relative {diff / scale:E3}");
        Assert.True(diff <= 3e-2 * scale, $"{shape} {typeName}: max|Δ| {diff:E3} exceeds 3e-2·{scale:F3}");
    }
}
