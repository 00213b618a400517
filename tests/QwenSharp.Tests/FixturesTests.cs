namespace QwenSharp.Tests;

public class FixturesTests
{
    [Fact]
    public void GzippedTokenizerUnpacksToTheRealVocabulary()
    {
        string path = Fixtures.Path("qwen2-tokenizer/vocab.json");
        var vocab = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        Assert.Equal(151643, vocab.RootElement.EnumerateObject().Count());
    }
}
