using LLama;
using LLama.Common;
using LLama.Native;
using QwenSharp.Formats;
using QwenSharp.Model;
using QwenSharp.Quantization;
using QwenSharp.Tensors;
using QwenSharp.Tests.Model;
using QwenSharp.Tests.Oracles;
using QwenSharp.Text;
using Xunit.Abstractions;

namespace QwenSharp.Tests.Quantization;

/// <summary>
/// <see cref="GgufConverter"/> on random Hugging Face folders with the real Qwen2 tokenizer: llama.cpp (LLamaSharp
/// 0.30) loads the result and its logits match ours from the folder within the core fidelity bounds of
/// <see cref="LlamaCppFidelityTests"/> (f32 1e-4, f16 2e-3, bf16 5e-3, q8_0 3e-2 of max|logit|); tensors have the
/// names, order and types convert_hf_to_gguf.py gives them; llama.cpp reads the metadata the script writes.
/// </summary>
public class ConvertMatchesLlamaCppTests(ITestOutputHelper output)
{
    // Rows of 208 values in ffn_down: not whole Q8_0 blocks, so q8_0 falls back to F16 there.
    private static readonly Qwen2Config Plain = new()
    {
        Origin = "convert", VocabSize = 1024, HiddenSize = 128, IntermediateSize = 208, NumHiddenLayers = 2,
        NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 512, RopeTheta = 1000000, RmsNormEps = 1e-6,
        TieWordEmbeddings = false, BosTokenId = 1000, EosTokenIds = [1001],
    };

    /// <summary>Qwen2-7B-Instruct's YaRN config scaled down: its rope_scaling block, with an original context of 32
    /// so that 64 tokens run past it.</summary>
    private static Qwen2Config Yarn()
    {
        var real = Qwen2Config.FromFile(Fixtures.Config("qwen2-7b-instruct-yarn.json"));
        return real with
        {
            VocabSize = 1024, HiddenSize = 128, IntermediateSize = 256, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, MaxPositionEmbeddings = 128, BosTokenId = 1000, EosTokenIds = [1001], TieWordEmbeddings = true,
            RopeScaling = real.RopeScaling! with { OriginalMaxPositionEmbeddings = 32 },
        };
    }

    /// <summary>A Qwen2-MoE folder (per-expert matrices, sharded): the converter stacks each layer's experts into
    /// ffn_{down,gate,up}_exps as Qwen2MoeModel.modify_tensors does, keeps the router F32 and the shared expert's gate a
    /// vector; llama.cpp runs the file as we run the folder.</summary>
    [Theory]
    [InlineData("F32", "f32", 1e-4)]
    [InlineData("BF16", "bf16", 5e-3)]
    public void AMoeFolderConvertsToAFileLlamaCppRunsAsWeRunTheFolder(string dtype, string outType, double bound)
    {
        var config = TinyModels.Config("moe") with { BosTokenId = 290, EosTokenIds = [291] };
        var source = Enum.Parse<GgmlType>(dtype);
        using var dir = Fixtures.TempDir();
        string folder = dir.File("hf"), gguf = dir.File("out.gguf");
        RandomModel.WriteFolder(config, folder, source, 11, Fixtures.TokenizerFolder, null, maxShardBytes: 256 << 10);
        GgufConverter.Run(folder, gguf, GgufConverter.ParseOutType(outType), threads: 2);
        using (var file = GgufFile.Open(gguf))
        {
            Assert.Equal("qwen2moe", file.Metadata.GetString("general.architecture"));
            Assert.Equal((uint)config.NumExperts!.Value, file.Metadata.GetUInt32("qwen2moe.expert_count"));
            var names = file.TensorNames.ToList();
            int down = names.IndexOf("blk.0.ffn_down_exps.weight");
            Assert.True(down >= 0, "blk.0.ffn_down_exps.weight is written");
            Assert.Equal(["blk.0.ffn_down_exps.weight", "blk.0.ffn_gate_exps.weight", "blk.0.ffn_up_exps.weight"], names.Skip(down).Take(3));
            Assert.DoesNotContain(names, n => n.Contains(".experts.", StringComparison.Ordinal));
            Assert.Equal(new long[] { config.NumExperts.Value, config.HiddenSize, config.MoeIntermediateSize!.Value }, file.Get("blk.0.ffn_down_exps.weight").Shape);
            Assert.Equal(GgmlType.F32, file.Get("blk.0.ffn_gate_inp.weight").Type);
            Assert.Single(file.Get("blk.0.ffn_gate_inp_shexp.weight").Shape);
        }

        using var model = ModelFiles.Load(folder);
        var tokens = TinyModels.Tokens(64, config.VocabSize);
        var ours = TinyModels.Logits(model, tokens);
        float[][] reference;
        using (var llama = new LlamaCpp(gguf, contextSize: 128))
            reference = llama.Logits(tokens);
        var (diff, scale) = TinyModels.Compare(ours, reference);
        output.WriteLine($"moe {dtype} -> {outType}: max|Δ| = {diff:E3}, max|logit| = {scale:F3}, relative {diff / scale:E3} (bound {bound:E1})");
        Assert.True(diff <= bound * scale, $"moe {dtype} -> {outType}: max|Δ| {diff:E3} exceeds {bound:E1}·{scale:F3}");
    }

    [Theory]
    [InlineData("plain", "F32", "f32", 1e-4)]
    [InlineData("plain", "F16", "f16", 2e-3)]
    [InlineData("plain", "BF16", "bf16", 5e-3)]
    [InlineData("plain", "BF16", "q8_0", 3e-2)]
    [InlineData("yarn", "BF16", "auto", 5e-3)]
    public void LlamaCppRunsTheConvertedFolderAsWeRunTheFolder(string shape, string dtype, string outType, double bound)
    {
        var config = shape == "yarn" ? Yarn() : Plain;
        var source = Enum.Parse<GgmlType>(dtype);
        using var dir = Fixtures.TempDir();
        string folder = dir.File("hf"), gguf = dir.File("out.gguf");
        RandomModel.WriteFolder(config, folder, source, 11, Fixtures.TokenizerFolder, null, maxShardBytes: 256 << 10);
        var written = GgufConverter.Run(folder, gguf, GgufConverter.ParseOutType(outType), threads: 2);
        var matrixType = outType == "auto" ? source : QuantizeFileTypes.DefaultType(written);
        Assert.Equal(outType == "auto" ? QuantizeFileType.BF16 : GgufConverter.ParseOutType(outType), written);

        using (var file = GgufFile.Open(gguf))
        {
            Assert.Equal((uint)written, file.Metadata.GetUInt32("general.file_type"));
            // Names and order: shards by file name, tensors by Hugging Face name within each (safetensors' sorted keys).
            using var checkpoint = SafetensorsCheckpoint.Open(folder);
            var expected = checkpoint.Files.OrderBy(f => Path.GetFileName(f.Path), StringComparer.Ordinal)
                .SelectMany(f => f.TensorNames.Order(StringComparer.Ordinal))
                .Where(n => !(config.TieWordEmbeddings && n == "lm_head.weight"))
                .Select(GgufNames.ToGguf).ToList();
            Assert.True(checkpoint.Files.Count > 1, "the folder is sharded");
            Assert.Equal(expected, file.TensorNames);
            foreach (var t in file.Tensors)
            {
                // prepare_tensors: 1-D and norms F32; q8_0 rows that are not whole 32-blocks F16; the rest the output type.
                var want = t.Shape.Length == 1 || t.Name.EndsWith("_norm.weight") ? GgmlType.F32
                    : matrixType == GgmlType.Q8_0 && t.Shape[^1] % 32 != 0 ? GgmlType.F16 : matrixType;
                Assert.True(want == t.Type, $"{t.Name}: {t.Type}, expected {want}");
            }
            if (outType == "q8_0") Assert.Equal(GgmlType.F16, file.Get("blk.0.ffn_down.weight").Type);
        }

        using var model = ModelFiles.Load(folder);
        var tokens = TinyModels.Tokens(64, config.VocabSize);
        var ours = TinyModels.Logits(model, tokens);
        float[][] reference;
        using (var llama = new LlamaCpp(gguf, contextSize: 128))
            reference = llama.Logits(tokens);
        var (diff, scale) = TinyModels.Compare(ours, reference);
        output.WriteLine($"{shape} {dtype} -> {outType}: max|Δ| = {diff:E3}, max|logit| = {scale:F3}, relative {diff / scale:E3} (bound {bound:E1})");
        Assert.True(diff <= bound * scale, $"{shape} {dtype} -> {outType}: max|Δ| {diff:E3} exceeds {bound:E1}·{scale:F3}");

        if (shape == "yarn")
        {
            using var file = GgufFile.Open(gguf);
            Assert.Equal("yarn", file.Metadata.GetString("qwen2.rope.scaling.type"));
            Assert.Equal(4f, file.Metadata.GetFloat32("qwen2.rope.scaling.factor"));
            Assert.Equal(32u, file.Metadata.GetUInt32("qwen2.rope.scaling.original_context_length"));
            // And llama.cpp reads them (its logits above ran past the original context with them).
            NativeLogConfig.llama_log_set((level, message) => { });
            using var weights = LLamaWeights.LoadFromFile(new ModelParams(gguf) { GpuLayerCount = 0 });
            Assert.Equal("yarn", weights.Metadata["qwen2.rope.scaling.type"]);
            Assert.Equal("4.000000", weights.Metadata["qwen2.rope.scaling.factor"]);
            Assert.Equal("32", weights.Metadata["qwen2.rope.scaling.original_context_length"]);
            Assert.Equal(128, weights.ContextSize);
        }
    }

    /// <summary>
    /// The full Qwen2 vocabulary (151,936 rows) in a one-layer model: the metadata in the converter's order and
    /// values, what llama.cpp reads from it (context, special ids, chat template, name), and the tokenizer:
    /// llama.cpp's and ours from the GGUF split text into the ids ours from the folder gives.
    /// </summary>
    [Fact]
    public void LlamaCppReadsTheMetadataAndTokenizesAsTheFolder()
    {
        var config = Plain with
        {
            VocabSize = 151936, HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 1, TieWordEmbeddings = true,
            BosTokenId = 151643, EosTokenIds = [151645],
        };
        using var dir = Fixtures.TempDir();
        string folder = dir.File("Qwen2-Tiny-Instruct"), gguf = dir.File("tiny.gguf");
        RandomModel.WriteFolder(config, folder, GgmlType.BF16, 3, Fixtures.TokenizerFolder, Fixtures.Config("qwen2-7b-instruct.generation_config.json"));
        // Qwen2.5-0.5B-Instruct's model card front matter.
        File.WriteAllText(Path.Combine(folder, "README.md"), "---\nlicense: apache-2.0\nlicense_link: https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct/blob/main/LICENSE\n"
            + "language:\n- en\npipeline_tag: text-generation\nbase_model: Qwen/Qwen2.5-0.5B\ntags:\n- chat\nlibrary_name: transformers\n---\n\n# Qwen2.5-0.5B-Instruct\n");
        Assert.Equal(QuantizeFileType.F16, GgufConverter.Run(folder, gguf, QuantizeFileType.F16, threads: 2));

        using (var file = GgufFile.Open(gguf))
        {
            var m = file.Metadata;
            // Order of ModelBase.prepare_metadata: writer's architecture, set_type, set_gguf_meta_model (sampling, name
            // components), set_gguf_parameters (ending with file_type), quantization version, then set_vocab.
            string[] head =
            [
                "general.architecture", "general.type", "general.sampling.top_k", "general.sampling.top_p", "general.sampling.temp",
                "general.name", "general.finetune", "general.basename", "general.size_label", "general.license", "general.license.link",
                "general.base_model.count", "general.base_model.0.name", "general.base_model.0.organization", "general.base_model.0.repo_url",
                "general.tags", "general.languages",
                "qwen2.block_count", "qwen2.context_length", "qwen2.embedding_length", "qwen2.feed_forward_length",
                "qwen2.attention.head_count", "qwen2.attention.head_count_kv", "qwen2.rope.freq_base",
                "qwen2.attention.layer_norm_rms_epsilon", "general.file_type", "general.quantization_version",
                "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges",
                // SpecialVocab's ids: eos and pad named by tokenizer_config.json, then bos from config.json.
                "tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.ggml.bos_token_id",
                // add_bos_token is ours (tokenizer_config.json has none, so the script writes none), then the template.
                "tokenizer.ggml.add_bos_token", "tokenizer.chat_template",
            ];
            Assert.Equal(head, m.Keys);
            Assert.Equal("model", m.GetString("general.type"));
            Assert.Equal(20, m.GetInt32("general.sampling.top_k"));
            Assert.Equal(0.8f, m.GetFloat32("general.sampling.top_p"));
            Assert.Equal(0.7f, m.GetFloat32("general.sampling.temp"));
            Assert.Equal("Qwen2 Tiny Instruct", m.GetString("general.name"));
            Assert.Equal("Qwen2-Tiny", m.GetString("general.basename"));
            Assert.Equal("Instruct", m.GetString("general.finetune"));
            // 151936·64 + one layer (norms 2·64, q 64·64+64, k and v 32·64+32 each, o 64·64, MLP 3·128·64) + 64 = 9,761,088 → "10M".
            Assert.Equal(9_761_088, file.Tensors.Sum(t => t.ElementCount));
            Assert.Equal("10M", m.GetString("general.size_label"));
            Assert.Equal(2u, m.GetUInt32("general.quantization_version"));
            Assert.Equal(1u, m.GetUInt32("general.file_type"));
            Assert.Equal("qwen2", m.GetString("tokenizer.ggml.pre"));
            // Added tokens: <|endoftext|>, <|im_start|>, <|im_end|> are CONTROL; the padding rows UNUSED.
            var types = m.GetInt32Array("tokenizer.ggml.token_type");
            Assert.Equal([3, 3, 3], types[151643..151646]);
            Assert.All(types[151646..], t => Assert.Equal(5, t));
            Assert.Equal("[PAD151935]", m.GetStringArray("tokenizer.ggml.tokens")[^1]);
        }

        string template = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures.TokenizerFolder, "tokenizer_config.json")))
            .RootElement.GetProperty("chat_template").GetString()!;
        NativeLogConfig.llama_log_set((level, message) => { });
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(gguf) { GpuLayerCount = 0 });
        Assert.Equal(512, weights.ContextSize);
        Assert.Equal(151936, weights.Vocab.Count);
        Assert.Equal(151645, (int)weights.Vocab.EOS!.Value);
        Assert.Equal(151643, (int)weights.Vocab.BOS!.Value);
        Assert.Equal(151643, (int)weights.Vocab.Pad!.Value);
        Assert.False(weights.Vocab.ShouldAddBOS);
        Assert.Equal(template, weights.NativeHandle.GetTemplate(null, strict: false));
        Assert.Equal("Qwen2 Tiny Instruct", weights.Metadata["general.name"]);
        Assert.Equal("1000000.000000", weights.Metadata["qwen2.rope.freq_base"]);
        Assert.Equal("apache-2.0", weights.Metadata["general.license"]);
        Assert.Equal("Qwen2.5 0.5B", weights.Metadata["general.base_model.0.name"]);

        var fromFolder = Qwen2Tokenizer.FromFolder(folder);
        Qwen2Tokenizer fromGguf;
        using (var file = GgufFile.Open(gguf)) fromGguf = TokenizerLoader.FromGguf(file);
        string[] texts =
        [
            "Hello, world! How are you?", "  leading spaces and\ttabs\n\nnew lines", "numbers 1234567 and 3.14159",
            "中文测试：你好世界", "emoji 🦙🚀 and accents café naïve", "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
            "code: for (int i = 0; i < n; i++) { x += i; }", "I've been told he's there, 'RE you sure?",
        ];
        foreach (string text in texts)
        {
            int[] want = fromFolder.Encode(text);
            Assert.Equal(want, fromGguf.Encode(text));
            Assert.Equal(want, weights.Tokenize(text, add_bos: false, special: true, System.Text.Encoding.UTF8).Select(t => (int)t).ToArray());
        }
    }
}
