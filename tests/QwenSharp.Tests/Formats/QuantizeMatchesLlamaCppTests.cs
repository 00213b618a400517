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
/// 8 layers, so the attn_v/ffn_down "more bits" pattern of the _M types has layers both ways; the aligned shape has 2
/// query heads per key/value head, the unaligned one 5 (llama.cpp's attn_v rules for Q2_K and IQ4_* change at 4);
/// an 80-layer one checks the rule llama.cpp keeps for 70B models; two Qwen2-MoE shapes
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

    /// <summary>80 layers: llama.cpp's Qwen2 loader calls that a 70B model, whose attn_v gets Q5_K in place of Q3_K/Q4_K.</summary>
    private static readonly Qwen2Config Deep = Aligned with { Origin = "deep", IntermediateSize = 256, NumHiddenLayers = 80 };
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
            foreach (var t in new[] { "Q4_K_M", "Q5_K_S", "Q4_0", "Q3_K_M", "IQ4_XS" })
            {
                data.Add(shape, t, "pure");
                data.Add(shape, t, "leave-output");
            }
            // --output-tensor-type Q8_0 --token-embedding-type Q4_1, and a Q8_0 input requantized.
            data.Add(shape, "Q4_K_M", "tensor-types");
            data.Add(shape, "Q4_0", "requantize");
        }
        data.Add("deep", "Q2_K", "");
        data.Add("deep", "Q3_K_M", "");
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
        var config = shape switch { "aligned" => Aligned, "unaligned" => Unaligned, "deep" => Deep, "moe8" => Moe8, _ => Moe6 };
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

    /// <summary>
    /// Every key quantization does not change survives with its value and type, in order: an input carrying keys of
    /// every GGUF value type and arrays of each, a file_type and quantization_version in the middle (as the converter
    /// writes them), and split keys (which llama-quantize drops), quantized by both; key lists and values must agree.
    /// </summary>
    [Fact]
    public void KeepsEveryOtherKeyAsLlamaCppDoes()
    {
        using var dir = Fixtures.TempDir();
        string plain = dir.File("plain.gguf"), input = dir.File("in.gguf"), ours = dir.File("ours.gguf"), theirs = dir.File("llama.gguf");
        RandomModel.WriteGguf(Aligned with { NumHiddenLayers = 1 }, plain, GgmlType.F16, 2, GgufTokenizerExport.BytesOnly(512));
        using (var source = GgufFile.Open(plain))
        {
            var w = new GgufWriter();
            foreach (string key in source.Metadata.Keys)
            {
                w.Set(key, source.Metadata.GetValue(key));
                if (key == GgufNames.Keys.RmsEpsilon)
                    w.SetUInt32(GgufNames.Keys.GeneralFileType, 1).SetUInt32(GgufNames.Keys.GeneralQuantizationVersion, 2);
            }
            w.Set("split.no", (ushort)0).Set("split.count", (ushort)1).Set("split.tensors.count", source.Tensors.Count());
            w.Set("test.u8", (byte)200).Set("test.i8", (sbyte)-100).Set("test.u16", (ushort)60000).Set("test.i16", (short)-30000)
                .Set("test.u32", 4000000000u).Set("test.i32", -2000000000).Set("test.f32", 1.5f).Set("test.bool", true)
                .Set("test.string", "héllo").Set("test.u64", 18000000000000000000UL).Set("test.i64", -9000000000000000000L).Set("test.f64", 0.25)
                .Set("test.array.i32", GgufArray.Of([1, -2, 3])).Set("test.array.f32", GgufArray.Of([0.5f, -1f]))
                .Set("test.array.string", GgufArray.Of(["a", "", "ü"])).Set("test.array.bool", GgufArray.Of([true, false]))
                .Set("test.array.u8", GgufArray.Of(new byte[] { 1, 255 })).Set("test.array.i64", GgufArray.Of([-1L, 1L << 40]))
                .Set("test.array.f64", GgufArray.Of([1e-300, 2.5])).Set("general.description", "kept as it is");
            foreach (var t in source.Tensors)
            {
                var bytes = Bytes(t).ToArray();
                w.AddTensor(t.Name, t.Type, t.Shape, s => s.Write(bytes));
            }
            w.Write(input);
        }

        GgufQuantizer.Run(input, ours, new QuantizeOptions(QuantizeFileType.Q8_0) { Threads = 2 });
        NativeApi.llama_empty_call();
        NativeLogConfig.llama_log_set((level, message) => { });
        var p = LLamaModelQuantizeParams.Default();
        p.nthread = 2;
        p.ftype = LLamaFtype.MOSTLY_Q8_0;
        Assert.Equal(0u, NativeApi.llama_model_quantize(input, theirs, ref p));

        using var a = GgufFile.Open(ours);
        using var b = GgufFile.Open(theirs);
        using var before = GgufFile.Open(input);
        Assert.Equal(b.Metadata.Keys, a.Metadata.Keys);
        foreach (string key in b.Metadata.Keys)
            Assert.True(SameValue(b.Metadata.GetValue(key), a.Metadata.GetValue(key)), $"metadata {key} differs");
        // Stated from llama_model_quantize, independently of the oracle: the two set keys end the list, split keys go.
        Assert.Equal([GgufNames.Keys.GeneralQuantizationVersion, GgufNames.Keys.GeneralFileType], a.Metadata.Keys.TakeLast(2));
        Assert.Equal(7u, a.Metadata.GetUInt32(GgufNames.Keys.GeneralFileType));
        Assert.DoesNotContain("split.count", a.Metadata.Keys);
        Assert.Equal(before.Metadata.Keys.Where(k => !k.StartsWith("split.") && k is not (GgufNames.Keys.GeneralFileType or GgufNames.Keys.GeneralQuantizationVersion)),
            a.Metadata.Keys.SkipLast(2));
    }

    [Fact]
    public void RefusesTheInputThroughARelativePathOrASymbolicLink()
    {
        using var dir = Fixtures.TempDir();
        string input = dir.File("in.gguf");
        RandomModel.WriteGguf(Aligned with { NumHiddenLayers = 1 }, input, GgmlType.F16, 1, GgufTokenizerExport.BytesOnly(512));
        var before = File.ReadAllBytes(input);
        Directory.CreateDirectory(dir.File("sub"));
        File.CreateSymbolicLink(dir.File("link.gguf"), input);
        Directory.CreateSymbolicLink(dir.File("dirlink"), dir.Path);
        File.CreateSymbolicLink(dir.File("sub/relative-link.gguf"), "../in.gguf");
        string[] spellings =
        [
            Path.Combine(dir.Path, "sub", "..", "in.gguf"), dir.File("link.gguf"), Path.Combine(dir.File("dirlink"), "in.gguf"),
            Path.Combine(dir.File("dirlink"), "link.gguf"), dir.File("sub/relative-link.gguf"),
            Path.GetRelativePath(Environment.CurrentDirectory, input),
        ];
        foreach (string output in spellings)
        {
            var e = Assert.Throws<ArgumentException>(() => GgufQuantizer.Run(input, output, new QuantizeOptions(QuantizeFileType.Q8_0)));
            Assert.Contains("is the input", e.Message);
            Assert.Contains(output, e.Message);
            // And the other way round: the input through a link, the output plain.
            Assert.Throws<ArgumentException>(() => GgufQuantizer.Run(output, input, new QuantizeOptions(QuantizeFileType.Q8_0)));
        }
        Assert.Equal(before, File.ReadAllBytes(input));
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
    public void TheMixturesOfQ3KMAndQ2KAreLlamaCpps()
    {
        // From llama.cpp's rules: Q3_K_M gives attn_v Q5_K for its first 2 layers and Q4_K after, ffn_down Q5_K for the
        // first sixteenth of the layers (none of 8) and Q4_K after, attn_output Q4_K; Q2_K gives attn_v Q3_K, or Q4_K
        // with 4 or more query heads per key/value head, and ffn_down and attn_output Q3_K.
        var names = new List<string> { "token_embd.weight", "output.weight" };
        for (int i = 0; i < 8; i++) names.AddRange([$"blk.{i}.attn_q.weight", $"blk.{i}.attn_v.weight", $"blk.{i}.attn_output.weight", $"blk.{i}.ffn_down.weight"]);
        var q3 = new TensorTypeChoice(new QuantizeOptions(QuantizeFileType.Q3_K_M), names, new QuantizeModelInfo(2, 8));
        Assert.Equal(GgmlType.Q3_K, q3.Choose("token_embd.weight", GgmlType.F16, [512, 256]));
        Assert.Equal(GgmlType.Q6_K, q3.Choose("output.weight", GgmlType.F16, [512, 256]));
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(GgmlType.Q3_K, q3.Choose($"blk.{i}.attn_q.weight", GgmlType.F16, [256, 256]));
            Assert.Equal(i < 2 ? GgmlType.Q5_K : GgmlType.Q4_K, q3.Choose($"blk.{i}.attn_v.weight", GgmlType.F16, [128, 256]));
            Assert.Equal(GgmlType.Q4_K, q3.Choose($"blk.{i}.attn_output.weight", GgmlType.F16, [256, 256]));
            Assert.Equal(GgmlType.Q4_K, q3.Choose($"blk.{i}.ffn_down.weight", GgmlType.F16, [256, 768]));
        }
        foreach (var (gqa, attnV) in new[] { (2, GgmlType.Q3_K), (4, GgmlType.Q4_K), (7, GgmlType.Q4_K) })
        {
            var q2 = new TensorTypeChoice(new QuantizeOptions(QuantizeFileType.Q2_K), names, new QuantizeModelInfo(gqa, 8));
            Assert.Equal(attnV, q2.Choose("blk.0.attn_v.weight", GgmlType.F16, [128, 256]));
            Assert.Equal(GgmlType.Q3_K, q2.Choose("blk.0.attn_output.weight", GgmlType.F16, [256, 256]));
            Assert.Equal(GgmlType.Q3_K, q2.Choose("blk.0.ffn_down.weight", GgmlType.F16, [256, 768]));
            Assert.Equal(GgmlType.Q2_K, q2.Choose("blk.0.attn_q.weight", GgmlType.F16, [256, 256]));
            // Rows of 320 are not whole 256-blocks: Q2_K and Q3_K fall back to Q4_0.
            Assert.Equal(GgmlType.Q4_0, q2.Choose("blk.1.attn_q.weight", GgmlType.F16, [320, 320]));
        }
    }

    [Fact]
    public void ModelInfoIsReadAsLlamaCppReadsIt()
    {
        Assert.Equal(new QuantizeModelInfo(7, 28), QuantizeModelInfo.FromMetadata(
            [(GgufNames.Keys.HeadCount, 28u), (GgufNames.Keys.HeadCountKv, 4u), (GgufNames.Keys.BlockCount, 28u)]));
        // No head_count_kv: as many key/value heads as query heads; none: n_gqa is 0.
        Assert.Equal(new QuantizeModelInfo(1, 2), QuantizeModelInfo.FromMetadata([(GgufNames.Keys.HeadCount, 14u), (GgufNames.Keys.BlockCount, 2u)]));
        Assert.Equal(0, QuantizeModelInfo.FromMetadata([(GgufNames.Keys.HeadCount, 14u), (GgufNames.Keys.HeadCountKv, 0u)]).HeadsPerKvHead);
        // Per-layer arrays: layer 0's.
        Assert.Equal(5, QuantizeModelInfo.FromMetadata(
            [(GgufNames.Keys.HeadCount, GgufArray.Of([10u, 20u])), (GgufNames.Keys.HeadCountKv, GgufArray.Of([2u, 2u]))]).HeadsPerKvHead);
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
        Assert.Contains("not supported yet", Assert.Throws<ArgumentException>(() => QuantizeFileTypes.Parse("IQ3_S")).Message);
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
