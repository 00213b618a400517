using QwenSharp.Formats;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Cli;

/// <summary>`qwensharp quantize` on the command line: a progress line per tensor, the file type written, and bad
/// input refused with one sentence (exit 1) and nothing written.</summary>
public class QuantizeCommandTests
{
    private static readonly Qwen2Config Small = new()
    {
        Origin = "small", VocabSize = 512, HiddenSize = 256, IntermediateSize = 512, NumHiddenLayers = 2,
        NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 128, RopeTheta = 10000, RmsNormEps = 1e-6,
        TieWordEmbeddings = true,
    };

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = QwenSharp.Cli.CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void WritesTheTypeWithAProgressLinePerTensor()
    {
        using var dir = Fixtures.TempDir();
        string input = dir.File("in.gguf"), output = dir.File("out.gguf");
        RandomModel.WriteGguf(Small, input, GgmlType.F16, 3, GgufTokenizerExport.BytesOnly(512));
        var (code, stdout, stderr) = Run("quantize", input, output, "q4_k_m", "--threads", "2");
        Assert.Equal(0, code);
        Assert.Contains("Q4_K_M", stdout);
        using var gguf = GgufFile.Open(output);
        Assert.Equal(15u, gguf.Metadata.GetUInt32("general.file_type"));
        Assert.Equal(2u, gguf.Metadata.GetUInt32("general.quantization_version"));
        Assert.Equal(gguf.TensorNames.Count, stderr.Split('\n').Count(l => l.Contains(" -> ")));
        Assert.Equal(GgmlType.Q6_K, gguf.Get("token_embd.weight").Type); // tied: the embedding is the output matrix
    }

    [Theory]
    [InlineData("IQ2_XXS", "not supported yet")]
    [InlineData("Q7_0", "not a quantization type")]
    public void RefusesATypeByName(string type, string message)
    {
        using var dir = Fixtures.TempDir();
        string input = dir.File("in.gguf"), output = dir.File("out.gguf");
        RandomModel.WriteGguf(Small with { NumHiddenLayers = 1 }, input, GgmlType.F16, 3, GgufTokenizerExport.BytesOnly(512));
        var (code, _, stderr) = Run("quantize", input, output, type);
        Assert.Equal(1, code);
        Assert.Contains(type, stderr);
        Assert.Contains(message, stderr);
        Assert.Contains("Q4_K_M", stderr); // the list of supported types
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void RefusesTheInputAsOutput()
    {
        using var dir = Fixtures.TempDir();
        string input = dir.File("in.gguf");
        RandomModel.WriteGguf(Small with { NumHiddenLayers = 1 }, input, GgmlType.F16, 3, GgufTokenizerExport.BytesOnly(512));
        var before = File.ReadAllBytes(input);
        var (code, _, stderr) = Run("quantize", input, input, "Q8_0");
        Assert.Equal(1, code);
        Assert.Contains("is the input", stderr);
        Assert.Equal(before, File.ReadAllBytes(input));
    }

    [Fact]
    public void RefusesAMissingInputAndAFolderWithoutConfig()
    {
        using var dir = Fixtures.TempDir();
        var (code, _, stderr) = Run("quantize", dir.File("nope.gguf"), dir.File("out.gguf"), "Q8_0");
        Assert.Equal(1, code);
        Assert.Contains("nope.gguf does not exist", stderr);
        Directory.CreateDirectory(dir.File("empty"));
        (code, _, stderr) = Run("quantize", dir.File("empty"), dir.File("out.gguf"), "Q8_0");
        Assert.Equal(1, code);
        Assert.Contains("has no config.json", stderr);
        Assert.False(File.Exists(dir.File("out.gguf")));
    }
}
