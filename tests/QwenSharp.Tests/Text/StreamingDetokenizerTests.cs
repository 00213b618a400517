using System.Text;
using QwenSharp.Text;

namespace QwenSharp.Tests.Text;

/// <summary>
/// The streaming detokenizer over CJK and emoji text whose characters the real Qwen2 vocabulary splits across
/// tokens: pieces never hold U+FFFD when the whole text is valid, and their concatenation equals Decode.
/// </summary>
public sealed class StreamingDetokenizerTests
{
    private static Qwen2Tokenizer Tokenizer => Qwen2TokenizerDifferentialTests.Ours;

    private static IEnumerable<string> CjkEmojiCorpus()
    {
        string[] pieces = ["你好", "世界", "機器學習", "こんにちは", "한국어", "😀", "👨‍👩‍👧‍👦", "👍🏽", "🇯🇵", "𠀀𪚥", "龘", "齉",
            "🧑🏿‍🚀", "✨", "abc", " ", "\n", "、", "。", "ｶﾀｶﾅ", "<|im_end|>", "<|im_start|>"];
        var rng = new Random(11);
        for (int k = 0; k < 400; k++)
        {
            var sb = new StringBuilder();
            for (int i = rng.Next(1, 16); i > 0; i--) sb.Append(pieces[rng.Next(pieces.Length)]);
            yield return sb.ToString();
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pieces_are_whole_characters_and_join_to_the_full_decode(bool skipSpecial)
    {
        int split = 0;
        foreach (string text in CjkEmojiCorpus())
        {
            int[] ids = Tokenizer.Encode(text);
            var stream = new StreamingDetokenizer(Tokenizer, skipSpecial);
            var joined = new StringBuilder();
            foreach (int id in ids)
            {
                string piece = stream.Push(id);
                Assert.DoesNotContain('\uFFFD', piece);
                if (piece.Length > 0) Assert.False(char.IsHighSurrogate(piece[^1]), "a piece ends inside a surrogate pair");
                if (piece.Length == 0) split++;
                joined.Append(piece);
            }
            joined.Append(stream.Flush());
            Assert.Equal(Tokenizer.Decode(ids, skipSpecial), joined.ToString());
        }
        Assert.True(split > 100, $"only {split} tokens ended inside a character; the corpus does not exercise holding back");
    }

    [Fact]
    public void Invalid_bytes_come_out_as_the_full_decode_does()
    {
        var rng = new Random(5);
        for (int k = 0; k < 500; k++)
        {
            // byte-level tokens 0..255 alone: lone continuation bytes, truncated sequences, overlong forms
            int[] ids = Enumerable.Range(0, rng.Next(1, 10)).Select(_ => rng.Next(0, 256)).ToArray();
            var stream = new StreamingDetokenizer(Tokenizer);
            string joined = string.Concat(ids.Select(stream.Push)) + stream.Flush();
            Assert.Equal(Tokenizer.Decode(ids), joined);
        }
    }

    [Fact]
    public void Special_tokens_are_kept_or_skipped()
    {
        int[] ids = Tokenizer.Encode("<|im_start|>user\n你好<|im_end|>");
        var keep = new StreamingDetokenizer(Tokenizer);
        var skip = new StreamingDetokenizer(Tokenizer, skipSpecialTokens: true);
        Assert.Equal("<|im_start|>user\n你好<|im_end|>", string.Concat(ids.Select(keep.Push)) + keep.Flush());
        Assert.Equal("user\n你好", string.Concat(ids.Select(skip.Push)) + skip.Flush());
    }
}
