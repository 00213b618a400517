using QwenSharp.Formats;
using QwenSharp.Model;
using QwenSharp.Quantization;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Formats;

/// <summary>
/// A Hugging Face folder quantizes to what its GGUF twin quantizes to: random-model writes the same random model
/// (same seed) as an F16/BF16 safetensors folder and as a self-contained GGUF, with the real Qwen2 tokenizer;
/// quantizing each must give the same tensors (names, order, types, bytes) and the same metadata but the name, plus
/// the general.* keys llama.cpp's converter adds for a folder (type, size label).
/// The GGUF side is the one <see cref="QuantizeMatchesLlamaCppTests"/> holds byte-identical to llama.cpp.
/// </summary>
public class QuantizeFromFolderTests
{
    private static readonly Qwen2Config Config = new()
    {
        Origin = "folder", VocabSize = 1024, HiddenSize = 320, IntermediateSize = 768, NumHiddenLayers = 4,
        NumAttentionHeads = 5, NumKeyValueHeads = 1, MaxPositionEmbeddings = 256, RopeTheta = 1000000, RmsNormEps = 1e-6,
        TieWordEmbeddings = true, BosTokenId = 1000, EosTokenIds = [1001],
    };

    /// <summary>Qwen2-MoE: per-expert matrices become llama.cpp's stacks, the router F32, the shared expert's gate a vector.</summary>
    private static readonly Qwen2Config Moe = Config with
    {
        Origin = "moe", HiddenSize = 256, NumAttentionHeads = 4, TieWordEmbeddings = false, Architectures = [Qwen2Config.MoeArchitecture],
        ModelType = "qwen2_moe", NumExperts = 6, NumExpertsPerTok = 2, MoeIntermediateSize = 160, SharedExpertIntermediateSize = 256,
        DecoderSparseStep = 1, NormTopkProb = false,
    };

    [Theory]
    [InlineData("F16", "Q4_K_M", false)]
    [InlineData("BF16", "Q8_0", false)]
    [InlineData("F16", "F16", false)]
    [InlineData("BF16", "Q4_K_M", true)]
    [InlineData("F16", "F16", true)]
    public void AFolderQuantizesAsItsGgufTwin(string dtype, string typeName, bool moe)
    {
        var config = moe ? Moe : Config;
        var source = Enum.Parse<GgmlType>(dtype);
        var type = QuantizeFileTypes.Parse(typeName);
        using var dir = Fixtures.TempDir();
        string folder = dir.File("hf"), gguf = dir.File("twin.gguf");
        RandomModel.WriteFolder(config, folder, source, 9, Fixtures.TokenizerFolder, null);
        RandomModel.WriteGguf(config, gguf, source, 9,
            GgufTokenizerExport.FromHuggingFace(Fixtures.TokenizerFolder, config.VocabSize, config.EosTokenId, config.BosTokenId));

        GgufQuantizer.Run(folder, dir.File("from-folder.gguf"), new QuantizeOptions(type) { Threads = 2 });
        GgufQuantizer.Run(gguf, dir.File("from-gguf.gguf"), new QuantizeOptions(type) { Threads = 2 });

        using var a = GgufFile.Open(dir.File("from-folder.gguf"));
        using var b = GgufFile.Open(dir.File("from-gguf.gguf"));
        Assert.Equal(b.Metadata.Keys, a.Metadata.Keys.Where(b.Metadata.Keys.Contains));
        Assert.Equal([GgufNames.Keys.GeneralType, GgufNames.Keys.GeneralSizeLabel], a.Metadata.Keys.Except(b.Metadata.Keys));
        foreach (string key in b.Metadata.Keys.Where(k => k != GgufNames.Keys.GeneralName))
            Assert.True(SameValue(b.Metadata.GetValue(key), a.Metadata.GetValue(key)), $"metadata {key} differs");
        Assert.Equal(b.TensorNames, a.TensorNames);
        foreach (var expected in b.Tensors)
        {
            var actual = a.Get(expected.Name);
            Assert.Equal((expected.Name, expected.Type), (actual.Name, actual.Type));
            Assert.Equal(expected.Shape, actual.Shape);
            Assert.True(Bytes(expected).SequenceEqual(Bytes(actual)), $"{expected.Name} ({expected.Type}) data differs");
        }
    }

    private static bool SameValue(object x, object y) =>
        x is GgufArray ax && y is GgufArray ay
            ? ax.ElementType == ay.ElementType && System.Collections.StructuralComparisons.StructuralEqualityComparer.Equals(ax.Items, ay.Items)
            : x.GetType() == y.GetType() && x.Equals(y);

    private static unsafe ReadOnlySpan<byte> Bytes(TensorView t) => new(t.Pointer, checked((int)t.ByteLength));
}
