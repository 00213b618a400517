using System.Collections;
using LLama;
using LLama.Native;
using QwenSharp.Formats;
using QwenSharp.Model;
using QwenSharp.Quantization;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Formats;

/// <summary>
/// llama.cpp's quantizer (LLamaSharp 0.30.0's LLamaQuantizer, no importance matrix) is the oracle for
/// <see cref="GgufQuantizer"/>: on the same random Qwen2 GGUF both must write the same tensors, in the same order,
/// with the same ggml types and byte-identical data, and the same metadata. Two shapes: one where every row is a
/// whole number of 256-value blocks and output.weight is its own tensor, one Qwen2-0.5B-like (rows of 320 and
/// 608 values, tied embeddings) that exercises the 32-block fallbacks and the token embedding treated as output.
/// 8 layers, so the attn_v/ffn_down "more bits" pattern of the _M types has layers both ways. Two Qwen2-MoE shapes
/// add stacked expert tensors, the F32 router and llama.cpp's 8-expert rules.
/// </summary>
public class QuantizeMatchesLlamaCppTests
{
    private static readonly Qwen2Config Aligned = new()
    {
        Origin = "aligned", VocabSize = 512, HiddenSize = 256, IntermediateSize = 768, NumHiddenLayers = 8,
        NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 256, RopeTheta = 10000, RmsNormEps = 1e-6,
        TieWordEmbeddings = false,
    };

    private static readonly Qwen2Config Unaligned = Aligned with
    {
        Origin = "unaligned", HiddenSize = 320, IntermediateSize = 608, NumAttentionHeads = 5, NumKeyValueHeads = 1,
        TieWordEmbeddings = true,
    };

    // Qwen2-MoE: with exactly 8 experts llama.cpp applies Mixtral's rules (attn_v/attn_k Q8_0, attn_output Q5_K); with 6,
    // not. The second one's experts have rows of 160 (down) and its shared expert of 224: K-quant fallbacks in 3-D stacks.
    private static readonly Qwen2Config Moe8 = Aligned with
    {
        Origin = "moe8", Architectures = [Qwen2Config.MoeArchitecture], ModelType = "qwen2_moe", NumExperts = 8, NumExpertsPerTok = 2,
        MoeIntermediateSize = 256, SharedExpertIntermediateSize = 512, DecoderSparseStep = 1, NormTopkProb = false,
    };

    private static readonly Qwen2Config Moe6 = Moe8 with { Origin = "moe6", NumExperts = 6, MoeIntermediateSize = 160, SharedExpertIntermediateSize = 224 };

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var shape in new[] { "aligned", "unaligned" })
        {
            foreach (var t in QuantizeFileTypes.All)
                data.Add(shape, t.ToString(), "");
            foreach (var t in new[] { "Q4_K_M", "Q5_K_S", "Q4_0" })
            {
                data.Add(shape, t, "pure");
                data.Add(shape, t, "leave-output");
            }
            // --output-tensor-type Q8_0 --token-embedding-type Q4_1, and a Q8_0 input requantized.
            data.Add(shape, "Q4_K_M", "tensor-types");
            data.Add(shape, "Q4_0", "requantize");
        }
        foreach (var shape in new[] { "moe8", "moe6" })
        {
            foreach (var t in QuantizeFileTypes.All)
                data.Add(shape, t.ToString(), "");
            data.Add(shape, "Q4_K_M", "pure");
        }
        return data;
    }

    private static LLamaFtype OracleType(QuantizeFileType t) => t switch
    {
        QuantizeFileType.F32 => LLamaFtype.ALL_F32,
        _ => Enum.Parse<LLamaFtype>("MOSTLY_" + t),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TensorsAndMetadataAreByteIdenticalToLlamaCpp(string shape, string typeName, string flags)
    {
        var type = QuantizeFileTypes.Parse(typeName);
        using var dir = Fixtures.TempDir();
        string input = dir.File("in.gguf"), ours = dir.File("ours.gguf"), theirs = dir.File("llama.gguf");
        // The aligned model starts from F16 (the usual input), the unaligned one from F32.
        // The unaligned one carries the real Qwen2 tokenizer (its first 512 ids, their merges, the chat template),
        // so copying large string arrays is compared too.
        var config = shape switch { "aligned" => Aligned, "unaligned" => Unaligned, "moe8" => Moe8, _ => Moe6 };
        RandomModel.WriteGguf(config, input, shape is "unaligned" or "moe6" ? GgmlType.F32 : GgmlType.F16, 5,
            shape == "unaligned" ? GgufTokenizerExport.FromHuggingFace(Fixtures.TokenizerFolder, 512, null, null) : GgufTokenizerExport.BytesOnly(512));

        bool pure = flags == "pure", leaveOutput = flags == "leave-output", types = flags == "tensor-types";
        if (flags == "requantize")
        {
            string q8 = dir.File("q8.gguf");
            GgufQuantizer.Run(input, q8, new QuantizeOptions(QuantizeFileType.Q8_0) { Threads = 2 });
            Assert.Contains("--allow-requantize", Assert.Throws<ArgumentException>(() => GgufQuantizer.Run(q8, ours, new QuantizeOptions(type))).Message);
            input = q8;
        }
        GgufQuantizer.Run(input, ours, new QuantizeOptions(type)
        {
            Threads = 2, Pure = pure, LeaveOutputTensor = leaveOutput, AllowRequantize = flags == "requantize",
            OutputTensorType = types ? GgmlType.Q8_0 : null, TokenEmbeddingType = types ? GgmlType.Q4_1 : null,
        });
        NativeApi.llama_empty_call();
        NativeLogConfig.llama_log_set((level, message) => { });
        var p = LLamaModelQuantizeParams.Default();
        p.nthread = 2;
        p.ftype = OracleType(type);
        p.allow_requantize = flags == "requantize";
        if (types)
        {
            p.output_tensor_type = GGMLType.GGML_TYPE_Q8_0;
            p.token_embedding_type = GGMLType.GGML_TYPE_Q4_1;
        }
        p.quantize_output_tensor = !leaveOutput;
        p.pure = pure;
        Assert.Equal(0u, NativeApi.llama_model_quantize(input, theirs, ref p));

        using var a = GgufFile.Open(ours);
        using var b = GgufFile.Open(theirs);
        Assert.Equal(b.Metadata.Keys, a.Metadata.Keys);
        foreach (string key in b.Metadata.Keys)
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

    [Fact]
    public void TheMixtureIsLlamaCppsForQ4KM()
    {
        // Stated from llama.cpp's rules, independently of the oracle: 8 layers → more bits for layers 0, 3, 6, 7.
        var names = new List<string> { "token_embd.weight", "output.weight" };
        for (int i = 0; i < 8; i++) names.AddRange([$"blk.{i}.attn_v.weight", $"blk.{i}.ffn_down.weight", $"blk.{i}.attn_norm.weight"]);
        var choice = new TensorTypeChoice(new QuantizeOptions(QuantizeFileType.Q4_K_M), names);
        Assert.Equal(GgmlType.Q4_K, choice.Choose("token_embd.weight", GgmlType.F16, [512, 256]));
        Assert.Equal(GgmlType.Q6_K, choice.Choose("output.weight", GgmlType.F16, [512, 256]));
        var more = new[] { 0, 3, 6, 7 };
        for (int i = 0; i < 8; i++)
        {
            var want = more.Contains(i) ? GgmlType.Q6_K : GgmlType.Q4_K;
            Assert.Equal(want, choice.Choose($"blk.{i}.attn_v.weight", GgmlType.F16, [128, 256]));
            Assert.Equal(want, choice.Choose($"blk.{i}.ffn_down.weight", GgmlType.F16, [256, 768]));
            Assert.Equal(GgmlType.F32, choice.Choose($"blk.{i}.attn_norm.weight", GgmlType.F32, [256]));
        }
    }

    [Fact]
    public void RefusesTheInputAsOutputAndUnknownTypes()
    {
        using var dir = Fixtures.TempDir();
        string input = dir.File("in.gguf");
        RandomModel.WriteGguf(Aligned with { NumHiddenLayers = 1 }, input, GgmlType.F16, 1, GgufTokenizerExport.BytesOnly(512));
        long length = new FileInfo(input).Length;
        var e = Assert.Throws<ArgumentException>(() => GgufQuantizer.Run(input, input, new QuantizeOptions(QuantizeFileType.Q8_0)));
        Assert.Contains("is the input", e.Message);
        Assert.Equal(length, new FileInfo(input).Length);
        Assert.Contains("not supported yet", Assert.Throws<ArgumentException>(() => QuantizeFileTypes.Parse("IQ4_XS")).Message);
        Assert.Contains("not a quantization type", Assert.Throws<ArgumentException>(() => QuantizeFileTypes.Parse("Q9_9")).Message);
        Assert.Equal(QuantizeFileType.Q4_K_M, QuantizeFileTypes.Parse("q4_k"));
        Assert.Equal(QuantizeFileType.Q5_K_M, QuantizeFileTypes.Parse("Q5_K"));
        Assert.Equal(QuantizeFileType.Q8_0, QuantizeFileTypes.Parse("7"));
    }

    private static unsafe ReadOnlySpan<byte> Bytes(TensorView t) => new(t.Pointer, checked((int)t.ByteLength));

    private static bool SameValue(object x, object y)
    {
        if (x is GgufArray ax && y is GgufArray ay)
            return ax.ElementType == ay.ElementType && StructuralComparisons.StructuralEqualityComparer.Equals(ax.Items, ay.Items);
        return x.GetType() == y.GetType() && x.Equals(y);
    }
}
