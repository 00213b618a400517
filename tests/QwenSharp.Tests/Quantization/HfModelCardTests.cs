using QwenSharp.Quantization;

namespace QwenSharp.Tests.Quantization;

/// <summary>
/// README.md front matter as gguf-py reads it, against llama.cpp's own expectations in
/// tests/test_metadata.py (test_apply_metadata_heuristic_from_model_card): base models and datasets from ids and
/// URLs, tags and languages.
/// </summary>
public class HfModelCardTests
{
    private static HfModelCard Card(string frontMatter)
    {
        using var dir = Fixtures.TempDir();
        File.WriteAllText(dir.File("README.md"), "---\n" + frontMatter + "---\n\n# A model\n\nname: not front matter\n");
        return HfModelCard.Read(dir.Path);
    }

    [Fact]
    public void BaseModelsDatasetsTagsAndLanguagesAreGgufPys()
    {
        var card = Card("""
            tags:
            - Llama-3
            - instruct
            - synthetic data
            model-index:
            - name: Mixtral-8x7B-Instruct-v0.1
              results: []
            language:
            - en
            datasets:
            - teknium/OpenHermes-2.5
            widget:
              - example_title: Hermes 2 Pro
            base_model: ["EmbeddedLLM/Mistral-7B-Merge-14-v0", "janai-hq/trinity-v1"]

            """.Replace("\r", ""));
        Assert.Equal(
            [
                new HfModelCard.Source("Mistral 7B Merge 14 v0", "EmbeddedLLM", "14-v0", "https://huggingface.co/EmbeddedLLM/Mistral-7B-Merge-14-v0"),
                new HfModelCard.Source("Trinity v1", "Janai Hq", "v1", "https://huggingface.co/janai-hq/trinity-v1"),
            ], card.BaseModels(0));
        Assert.Equal([new HfModelCard.Source("OpenHermes 2.5", "Teknium", "2.5", "https://huggingface.co/teknium/OpenHermes-2.5")], card.Datasets(0));
        Assert.Equal(["Llama-3", "instruct", "synthetic data"], card.Tags);
        Assert.Equal(["en"], card.Languages);
        Assert.Null(card.Get("name"));

        // A URL keeps itself as the repo URL; a single id is a list of one.
        card = Card("base_models: https://huggingface.co/teknium/OpenHermes-2.5\ndataset_sources: 'teknium/OpenHermes-2.5'\n");
        Assert.Equal([new HfModelCard.Source("OpenHermes 2.5", "Teknium", "2.5", "https://huggingface.co/teknium/OpenHermes-2.5")], card.BaseModels(0));
        Assert.Equal(card.BaseModels(0), card.Datasets(0));
    }

    [Fact]
    public void QwensCardGivesLicenseTagsLanguagesAndTheBaseModel()
    {
        var card = Card("""
            license: apache-2.0
            license_link: https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct/blob/main/LICENSE
            language:
            - en
            - no
            pipeline_tag: text-generation
            base_model: Qwen/Qwen2.5-0.5B
            tags:
            - chat
            library_name: transformers

            """.Replace("\r", ""));
        Assert.Equal("apache-2.0", card.License);
        Assert.Equal("https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct/blob/main/LICENSE", card.Get("license_link"));
        Assert.Equal(["chat", "text-generation"], card.Tags);   // the pipeline tag is appended
        Assert.Equal(["en", "no"], card.Languages);            // "no" stays Norwegian (load_model_card's quoting)
        Assert.Equal([new HfModelCard.Source("Qwen2.5 0.5B", "Qwen", null, "https://huggingface.co/Qwen/Qwen2.5-0.5B")], card.BaseModels(494_032_768));
        Assert.False(card.HasDatasets);
    }

    [Fact]
    public void NoFrontMatterIsAnEmptyCard()
    {
        using var dir = Fixtures.TempDir();
        File.WriteAllText(dir.File("README.md"), "# Title\nlicense: mit\n");
        Assert.Null(HfModelCard.Read(dir.Path).License);
        Assert.Null(HfModelCard.Read(dir.File("missing")).Tags);
    }
}
