using QwenSharp.Formats;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Cli;

/// <summary>`qwensharp convert` on the command line: a progress line per tensor and the type written; bad input
/// refused with one sentence (exit 1) and nothing written over the input.</summary>
public class ConvertCommandTests
{
    private static readonly Qwen2Config Small = new()
    {
        Origin = "small", VocabSize = 512, HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 1,
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
    public void WritesTheOutTypeWithAProgressLinePerTensor()
    {
        using var dir = Fixtures.TempDir();
        string folder = dir.File("hf"), output = dir.File("out.gguf");
        RandomModel.WriteFolder(Small, folder, GgmlType.BF16, 3, Fixtures.TokenizerFolder, null);
        var (code, stdout, stderr) = Run("convert", folder, output, "--outtype", "q8_0", "--threads", "2");
        Assert.Equal(0, code);
        Assert.Contains("Q8_0", stdout);
        using var gguf = GgufFile.Open(output);
        Assert.Equal(7u, gguf.Metadata.GetUInt32("general.file_type"));
        Assert.Equal(gguf.TensorNames.Count, stderr.Split('\n').Count(l => l.Contains(" -> ")));
        Assert.Equal(GgmlType.Q8_0, gguf.Get("token_embd.weight").Type);
        Assert.Equal(GgmlType.F32, gguf.Get("blk.0.attn_q.bias").Type);

        // Without --outtype: f16, as the script's default.
        (code, _, _) = Run("convert", folder, dir.File("default.gguf"));
        Assert.Equal(0, code);
        using var f16 = GgufFile.Open(dir.File("default.gguf"));
        Assert.Equal(GgmlType.F16, f16.Get("token_embd.weight").Type);
    }

    [Fact]
    public void RefusesBadInputWithOneSentence()
    {
        using var dir = Fixtures.TempDir();
        string folder = dir.File("hf");
        RandomModel.WriteFolder(Small, folder, GgmlType.F32, 3, Fixtures.TokenizerFolder, null);
        string shard = Path.Combine(folder, "model.safetensors");
        var before = File.ReadAllBytes(shard);
        File.CreateSymbolicLink(dir.File("shard-link"), shard);

        void Refused(string message, params string[] args)
        {
            var (code, _, stderr) = Run(args);
            Assert.Equal(1, code);
            Assert.Contains(message, stderr);
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        Refused("Output type q4_k is not one of f32, f16, bf16, q8_0, auto", "convert", folder, dir.File("o.gguf"), "--outtype", "q4_k");
        Refused("is the input folder", "convert", folder, folder);
        Refused("is the input folder", "convert", folder, Path.Combine(folder, "."));
        Refused("is the input file", "convert", folder, shard);
        Refused("is the input file", "convert", folder, dir.File("shard-link"));
        Refused("is a folder; give the path of the .gguf file", "convert", folder, dir.Path);
        Refused("does not exist", "convert", dir.File("nope"), dir.File("o.gguf"));
        Refused("convert takes <hf folder> <out.gguf>", "convert", folder);
        Assert.Equal(before, File.ReadAllBytes(shard));

        File.Delete(Path.Combine(folder, "config.json"));
        Refused("has no config.json", "convert", folder, dir.File("o.gguf"));

        // A dtype safetensors holds but a converter of float weights does not: I32 (same length as F32 in the header).
        RandomModel.WriteFolder(Small, folder, GgmlType.F32, 3, Fixtures.TokenizerFolder, null);
        var bytes = File.ReadAllBytes(shard);
        long headerLength = BitConverter.ToInt64(bytes, 0);
        string header = System.Text.Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        int at = header.IndexOf("\"F32\"", StringComparison.Ordinal);
        System.Text.Encoding.UTF8.GetBytes("\"I32\"").CopyTo(bytes, 8 + at);
        File.WriteAllBytes(shard, bytes);
        Refused("has dtype I32; supported dtypes are F32, F16, BF16", "convert", folder, dir.File("o.gguf"));
        Assert.False(File.Exists(dir.File("o.gguf")));
    }
}
