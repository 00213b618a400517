using QwenSharp.Formats;
using QwenSharp.Text;

namespace QwenSharp.Tests.Text;

/// <summary>A vocabulary without merges (random models made without a tokenizer) tokenizes to single bytes.</summary>
public class NoMergesTokenizerTests
{
    [Fact]
    public void BytesOnlyVocabularyEncodesEachUtf8Byte()
    {
        var export = GgufTokenizerExport.BytesOnly(300);
        var tokenizer = Qwen2Tokenizer.FromVocabulary(export.Tokens, export.TokenTypes, export.Merges);
        string text = "héllo, 世界";
        var expected = System.Text.Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();
        Assert.Equal(expected, tokenizer.Encode(text));
        Assert.Equal(text, tokenizer.Decode(expected));
    }
}
