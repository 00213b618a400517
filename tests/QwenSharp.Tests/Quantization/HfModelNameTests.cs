using QwenSharp.Quantization;

namespace QwenSharp.Tests.Quantization;

/// <summary>
/// The model-name heuristics against llama.cpp's own expectations: every case of gguf-py's tests/test_metadata.py
/// (test_get_model_id_components, test_id_to_title, the model-dir heuristic), expected values as written there.
/// </summary>
public class HfModelNameTests
{
    public static TheoryData<string, long, string, string?, string?, string?, string?, string?> Components => new()
    {
        { "Mistral/Mixtral-8x7B-Instruct-v0.1", 0, "Mixtral-8x7B-Instruct-v0.1", "Mistral", "Mixtral", "Instruct", "v0.1", "8x7B" },
        { "Mixtral-8x7B-Instruct-v0.1", 0, "Mixtral-8x7B-Instruct-v0.1", null, "Mixtral", "Instruct", "v0.1", "8x7B" },
        { "Mixtral-8x7B-Instruct", 0, "Mixtral-8x7B-Instruct", null, "Mixtral", "Instruct", null, "8x7B" },
        { "Mixtral-8x7B-v0.1", 0, "Mixtral-8x7B-v0.1", null, "Mixtral", null, "v0.1", "8x7B" },
        { "Mixtral-8x7B", 0, "Mixtral-8x7B", null, "Mixtral", null, null, "8x7B" },
        { "Mixtral-v0.1", 0, "Mixtral-v0.1", null, "Mixtral", null, "v0.1", null },
        { "Mixtral", 0, "Mixtral", null, null, null, null, null },
        { "NousResearch/Meta-Llama-3-8B", 0, "Meta-Llama-3-8B", "NousResearch", "Meta-Llama-3", null, null, "8B" },
        { "Qwen1.5-MoE-A2.7B-Chat", 0, "Qwen1.5-MoE-A2.7B-Chat", null, "Qwen1.5-MoE", "Chat", null, "A2.7B" },
        { "Qwen2-57B-A14B-Instruct", 0, "Qwen2-57B-A14B-Instruct", null, "Qwen2", "Instruct", null, "57B-A14B" },
        { "google/gemma-4-26B-A4B-it", 4_000_000_000, "gemma-4-26B-A4B-it", "google", "gemma-4", "it", null, "26B-A4B" },
        { "microsoft/Phi-3-mini-4k-instruct", 4_000_000_000, "Phi-3-mini-4k-instruct", "microsoft", "Phi-3", "4k-instruct", null, "mini" },
        { "delphi-suite/stories-llama2-50k", 50_000, "stories-llama2-50k", "delphi-suite", "stories-llama2", null, null, "50K" },
        { "DeepSeek-Coder-V2-Lite-Instruct", 0, "DeepSeek-Coder-V2-Lite-Instruct", null, "DeepSeek-Coder-V2-Lite", "Instruct", null, null },
        { "crestf411/daybreak-kunoichi-2dpo-7b", 0, "daybreak-kunoichi-2dpo-7b", "crestf411", "daybreak-kunoichi", "2dpo", null, "7B" },
        { "Qwen2-0.5B-Instruct", 0, "Qwen2-0.5B-Instruct", null, "Qwen2", "Instruct", null, "0.5B" },
        { "smallcloudai/Refact-1_6B-fim", 0, "Refact-1_6B-fim", "smallcloudai", "Refact", "fim", null, "1.6B" },
        { "UCLA-AGI/Gemma-2-9B-It-SPPO-Iter3", 0, "Gemma-2-9B-It-SPPO-Iter3", "UCLA-AGI", "Gemma-2", "It-SPPO", "Iter3", "9B" },
        { "NousResearch/Hermes-2-Theta-Llama-3-8B", 0, "Hermes-2-Theta-Llama-3-8B", "NousResearch", "Hermes-2-Theta-Llama-3", null, null, "8B" },
        { "SeaLLMs/SeaLLMs-v3-7B-Chat", 0, "SeaLLMs-v3-7B-Chat", "SeaLLMs", "SeaLLMs-v3", "Chat", null, "7B" },
        { "internlm/internlm2_5-7b-chat-1m", 7_000_000_000, "internlm2_5-7b-chat-1m", "internlm", "internlm2_5", "chat-1m", null, "7B" },
        { "pszemraj/jamba-900M-v0.13-KIx2", 0, "jamba-900M-v0.13-KIx2", "pszemraj", "jamba", "KIx2", "v0.13", "900M" },
        { "state-spaces/mamba-2.8b-hf", 0, "mamba-2.8b-hf", "state-spaces", "mamba", "hf", null, "2.8B" },
        { "abacaj/llama-161M-100B", 161_000_000, "llama-161M-100B", "abacaj", "llama", "100b", null, "161M" },
        { "SparseLLM/relu-100B", 1_340_000_000, "relu-100B", "SparseLLM", "relu", "100b", null, null },
        { "bigscience/bloom-7b1-petals", 0, "bloom-7b1-petals", "bigscience", "bloom", "petals", null, "7.1B" },
        { "MaziyarPanahi/GreenNode-mini-7B-multilingual-v1olet-Mistral-7B-Instruct-v0.1", 0, "GreenNode-mini-7B-multilingual-v1olet-Mistral-7B-Instruct-v0.1", "MaziyarPanahi", "GreenNode-mini", "multilingual-v1olet-Mistral-Instruct", "v0.1", "7B" },
        { "mistralai/Mistral-Nemo-Instruct-2407", 0, "Mistral-Nemo-Instruct-2407", "mistralai", "Mistral-Nemo", "Instruct", "2407", null },
        { "deepseek-ai/DeepSeek-V2-Chat-0628", 0, "DeepSeek-V2-Chat-0628", "deepseek-ai", "DeepSeek-V2", "Chat", "0628", null },
        { "OpenGVLab/Mini-InternVL-Chat-2B-V1-5", 0, "Mini-InternVL-Chat-2B-V1-5", "OpenGVLab", "Mini-InternVL", "Chat", "V1-5", "2B" },
        { "jondurbin/bagel-dpo-2.8b-v0.2", 0, "bagel-dpo-2.8b-v0.2", "jondurbin", "bagel-dpo", null, "v0.2", "2.8B" },
        { "voxmenthe/SFR-Iterative-DPO-LLaMA-3-8B-R-unquantized", 0, "SFR-Iterative-DPO-LLaMA-3-8B-R-unquantized", "voxmenthe", "SFR-Iterative-DPO-LLaMA-3", "R-unquantized", null, "8B" },
        { "microsoft/Florence-2-base", 0, "Florence-2-base", "microsoft", null, null, null, null },
        { "mistralai/-Mistral--Nemo-Base-2407-", 0, "-Mistral--Nemo-Base-2407-", "mistralai", "Mistral-Nemo-Base", null, "2407", null },
        { "Llama-3-Instruct-abliteration-LoRA-8B", 0, "Llama-3-Instruct-abliteration-LoRA-8B", null, "Llama-3", "Instruct-abliteration-LoRA", null, "8B" },
    };

    [Theory]
    [MemberData(nameof(Components))]
    public void ComponentsAreGgufPys(string id, long totalParams, string full, string? org, string? basename, string? finetune, string? version, string? size)
    {
        Assert.Equal(new HfModelName(full, org, basename, finetune, version, size), HfModelName.Parse(id, totalParams));
    }

    [Theory]
    [InlineData("Mixtral-8x7B-Instruct-v0.1", "Mixtral 8x7B Instruct v0.1")]
    [InlineData("Meta-Llama-3-8B", "Meta Llama 3 8B")]
    [InlineData("hermes-2-pro-llama-3-8b-DPO", "Hermes 2 Pro Llama 3 8b DPO")]
    public void TitlesAreGgufPys(string id, string title) => Assert.Equal(title, HfModelName.Title(id));

    [Fact]
    public void AFolderNameGivesTheNameAndAModelIdWins()
    {
        using var dir = Fixtures.TempDir();
        string folder = dir.File("hermes-2-pro-llama-3-8b-DPO");
        // test_apply_metadata_heuristic_from_model_dir (no parameter count there, so no size fallback).
        Assert.Equal(new HfModelName("Hermes 2 Pro Llama 3 8b DPO", null, "hermes-2-pro-llama-3", "DPO", null, "8B"), HfModelName.ForFolder(folder, null, 0));
        // _name_or_path is used when it is a model id; a path with more than one '/' is not one.
        Assert.Equal("Qwen2.5 0.5B Instruct", HfModelName.ForFolder(folder, "Qwen/Qwen2.5-0.5B-Instruct", 494_032_768).Name);
        Assert.Equal("Qwen", HfModelName.ForFolder(folder, "Qwen/Qwen2.5-0.5B-Instruct", 494_032_768).Organization);
        Assert.Equal("Hermes 2 Pro Llama 3 8b DPO", HfModelName.ForFolder(folder, "/home/me/models/qwen", 8_000_000_000).Name);
        // Without a size in either name, the count gives it (utility.size_label).
        Assert.Equal(new HfModelName("Qwen Tiny Chat", null, "qwen-tiny", "chat", null, "494M"), HfModelName.ForFolder(dir.File("qwen-tiny-chat"), null, 494_032_768));
    }

    [Theory]
    [InlineData(494_032_768, "494M")]
    [InlineData(1_543_714_304, "1.5B")]
    [InlineData(7_615_616_512, "7.6B")]
    [InlineData(72_706_203_648, "73B")]
    [InlineData(9_761_088, "10M")]
    [InlineData(50_000, "50K")]
    [InlineData(1_500, "1.5K")]
    public void SizeLabelsHaveTwoSignificantDigits(long count, string label) => Assert.Equal(label, HfModelName.SizeLabelOf(count));
}
