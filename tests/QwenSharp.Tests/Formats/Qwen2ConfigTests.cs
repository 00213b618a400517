using QwenSharp.Formats;
using QwenSharp.Model;

namespace QwenSharp.Tests.Formats;

public class Qwen2ConfigTests
{
    // Expected values are the fixture files' own numbers (Hugging Face config.json of each model card).
    [Theory]
    [InlineData("qwen2-0.5b-instruct.json", 896, 4864, 24, 14, 2, 151936, true, 32768, 64)]
    [InlineData("qwen2-1.5b-instruct.json", 1536, 8960, 28, 12, 2, 151936, true, 32768, 128)]
    [InlineData("qwen2-7b-instruct.json", 3584, 18944, 28, 28, 4, 152064, false, 131072, 128)]
    [InlineData("qwen2-72b-instruct.json", 8192, 29568, 80, 64, 8, 152064, false, 131072, 128)]
    public void FixtureConfigsParseWithTheirValues(string file, int hidden, int intermediate, int layers, int heads, int kvHeads,
        int vocab, bool tied, int slidingWindow, int headDim)
    {
        var c = Qwen2Config.FromFile(Fixtures.Config(file));
        c.Validate();
        Assert.Equal(["Qwen2ForCausalLM"], c.Architectures);
        Assert.Equal("qwen2", c.ModelType);
        Assert.Equal(hidden, c.HiddenSize);
        Assert.Equal(intermediate, c.IntermediateSize);
        Assert.Equal(layers, c.NumHiddenLayers);
        Assert.Equal(heads, c.NumAttentionHeads);
        Assert.Equal(kvHeads, c.NumKeyValueHeads);
        Assert.Equal(vocab, c.VocabSize);
        Assert.Equal(tied, c.TieWordEmbeddings);
        Assert.Equal(slidingWindow, c.SlidingWindow);
        Assert.Equal(headDim, c.HeadDim);
        Assert.Equal(1e-6, c.RmsNormEps);
        Assert.Equal(1000000.0, c.RopeTheta);
        Assert.Equal(32768, c.MaxPositionEmbeddings);
        Assert.Equal(layers, c.MaxWindowLayers);
        Assert.False(c.UseSlidingWindow);
        Assert.Equal("bfloat16", c.TorchDtype);
        Assert.Equal("silu", c.HiddenAct);
        Assert.Equal(151643, c.BosTokenId);
        Assert.Equal(151645, c.EosTokenId);
        Assert.Null(c.RopeScaling);
        Assert.Null(c.NumExperts);
    }

    [Fact]
    public void YarnBlockIsReadAsWritten()
    {
        var c = Qwen2Config.FromFile(Fixtures.Config("qwen2-7b-instruct-yarn.json"));
        c.Validate();
        Assert.Equal(new RopeScaling("yarn", 4.0, 32768, 32, 1), c.RopeScaling);
        // original_max_position_embeddings is taken as given, not derived from max_position_embeddings.
        Assert.Equal(32768, c.MaxPositionEmbeddings);
    }

    [Fact]
    public void RopeTypeSpellingAndBetasAreRead()
    {
        string json = """{"architectures":["Qwen2ForCausalLM"],"hidden_size":64,"num_attention_heads":4,"num_key_value_heads":2,"rope_scaling":{"rope_type":"yarn","factor":2,"original_max_position_embeddings":64,"beta_fast":16,"beta_slow":2}}""";
        var c = Qwen2Config.FromJson(json, "x/config.json");
        c.Validate();
        Assert.Equal(new RopeScaling("yarn", 2, 64, 16, 2), c.RopeScaling);
    }

    [Fact]
    public void MoeConfigParsesItsFieldsAndValidates()
    {
        var c = Qwen2Config.FromFile(Fixtures.Config("qwen2-57b-a14b-instruct.json"));
        Assert.Equal(["Qwen2MoeForCausalLM"], c.Architectures);
        Assert.Equal("qwen2_moe", c.ModelType);
        Assert.True(c.IsMoe);
        Assert.Equal(64, c.NumExperts);
        Assert.Equal(8, c.NumExpertsPerTok);
        Assert.Equal(2560, c.MoeIntermediateSize);
        Assert.Equal(20480, c.SharedExpertIntermediateSize);
        Assert.Equal(1, c.DecoderSparseStep);
        Assert.False(c.NormTopkProb);
        Assert.False(c.OutputRouterLogits);
        Assert.Equal(0.001, c.RouterAuxLossCoef);
        Assert.Equal(151643, c.EosTokenId);
        c.Validate();
        Assert.All(Enumerable.Range(0, 28), l => Assert.True(c.IsSparseLayer(l)));
        Assert.False(Qwen2Config.FromFile(Fixtures.Config("qwen2-7b-instruct.json")).IsSparseLayer(0));
    }

    /// <summary>Which layers are sparse, as Qwen2MoeDecoderLayer decides (not in mlp_only_layers, (layer+1) % step == 0).</summary>
    [Theory]
    [InlineData("""{"decoder_sparse_step":2}""", "0101")]
    [InlineData("""{"mlp_only_layers":[0,2]}""", "0101")]
    [InlineData("""{"decoder_sparse_step":3,"mlp_only_layers":[2]}""", "0000")]
    [InlineData("""{}""", "1111")]
    public void SparseLayersFollowStepAndMlpOnlyLayers(string fields, string expected)
    {
        string json = fields.TrimEnd('}') + (fields.Length > 2 ? "," : "") + "\"architectures\":[\"Qwen2MoeForCausalLM\"],\"num_hidden_layers\":4}";
        var c = Qwen2Config.FromJson(json, "m/config.json");
        c.Validate();
        Assert.Equal(expected, string.Concat(Enumerable.Range(0, 4).Select(l => c.IsSparseLayer(l) ? '1' : '0')));
    }

    [Theory]
    [InlineData("""{"num_experts":0}""", "num_experts is 0")]
    [InlineData("""{"num_experts":4,"num_experts_per_tok":5}""", "num_experts_per_tok 5 exceeds num_experts 4")]
    [InlineData("""{"moe_intermediate_size":-1}""", "moe_intermediate_size is -1")]
    [InlineData("""{"shared_expert_intermediate_size":0}""", "shared_expert_intermediate_size is 0")]
    [InlineData("""{"decoder_sparse_step":0}""", "decoder_sparse_step is 0")]
    [InlineData("""{"mlp_only_layers":[32]}""", "mlp_only_layers lists layer 32")]
    [InlineData("""{"mlp_only_layers":"all"}""", "mlp_only_layers")]
    public void BadMoeFieldsAreRefusedInOneSentence(string fields, string expected)
    {
        string json = fields.TrimEnd('}') + ",\"architectures\":[\"Qwen2MoeForCausalLM\"]}";
        var e = Assert.Throws<FormatException>(() => Qwen2Config.FromJson(json, "m/config.json").Validate());
        Assert.Contains(expected, e.Message);
        Assert.Contains("m/config.json", e.Message);
    }

    [Theory]
    [InlineData("""{"architectures":["LlamaForCausalLM"]}""", "LlamaForCausalLM")]
    [InlineData("""{"use_sliding_window":true}""", "use_sliding_window")]
    [InlineData("""{"hidden_size":100,"num_attention_heads":7}""", "not a multiple of num_attention_heads")]
    [InlineData("""{"num_attention_heads":32,"num_key_value_heads":5}""", "num_key_value_heads 5")]
    [InlineData("""{"rope_scaling":{"type":"linear","factor":2}}""", "rope_scaling type linear")]
    [InlineData("""{"rope_scaling":{"type":"yarn","factor":4}}""", "original_max_position_embeddings")]
    [InlineData("""{"hidden_act":"gelu"}""", "gelu")]
    public void UnsupportedConfigsAreRefusedInOneSentence(string json, string expected)
    {
        var e = Assert.Throws<FormatException>(() => Qwen2Config.FromJson(json, "m/config.json").Validate());
        Assert.Contains(expected, e.Message);
        Assert.Contains("m/config.json", e.Message);
    }

    [Theory]
    [InlineData("{\"hidden_size\": 12,,}", "not valid JSON")]
    [InlineData("""{"hidden_size":"big"}""", "hidden_size")]
    [InlineData("""{"tie_word_embeddings":1}""", "tie_word_embeddings")]
    [InlineData("""{"rope_scaling":{"factor":2}}""", "rope_scaling")]
    [InlineData("[1,2]", "not an object")]
    public void BadJsonNamesTheFileAndKey(string json, string expected)
    {
        var e = Assert.Throws<FormatException>(() => Qwen2Config.FromJson(json, "m/config.json"));
        Assert.Contains(expected, e.Message);
        Assert.Contains("m/config.json", e.Message);
    }

    [Fact]
    public void MissingFieldsTakeTransformersDefaults()
    {
        var c = Qwen2Config.FromJson("{}", "c");
        Assert.Equal(4096, c.HiddenSize);
        Assert.Equal(32, c.NumKeyValueHeads);
        Assert.Equal(10000.0, c.RopeTheta);
        Assert.False(c.TieWordEmbeddings);
        Assert.Equal(8, Qwen2Config.FromJson("""{"num_attention_heads":8}""", "c").NumKeyValueHeads);
    }

    [Theory]
    [InlineData("qwen2-0.5b-instruct.json")]
    [InlineData("qwen2-7b-instruct-yarn.json")]
    [InlineData("qwen2-57b-a14b-instruct.json")]
    [InlineData("qwen1.5-moe-a2.7b.json")]
    public void ToJsonReadsBackTheSameConfig(string file)
    {
        var c = Qwen2Config.FromFile(Fixtures.Config(file)) with { MlpOnlyLayers = [1, 5] };
        var back = Qwen2Config.FromJson(c.ToJson(), c.Origin);
        Assert.Equal(c.IsMoe ? [1, 5] : [], back.MlpOnlyLayers);
        Assert.Equal(c with { Architectures = [], EosTokenIds = [], MlpOnlyLayers = [] }, back with { Architectures = [], EosTokenIds = [], MlpOnlyLayers = [] });
        Assert.Equal(c.Architectures, back.Architectures);
        Assert.Equal(c.EosTokenIds, back.EosTokenIds);
    }
}
