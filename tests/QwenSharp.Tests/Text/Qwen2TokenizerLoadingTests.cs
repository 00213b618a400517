using System.Text.Json;
using QwenSharp.Text;

namespace QwenSharp.Tests.Text;

/// <summary>
/// The three ways to load the same vocabulary give the same tokenizer; added tokens a file lists are matched
/// as HF matches them; bad files are refused with the file and place named.
/// </summary>
public sealed class Qwen2TokenizerLoadingTests
{
    private static readonly string[] Samples =
    [
        "Hello world! I'm here.", "你好，世界 <|im_start|>user\n這是測試<|im_end|>", "  code\r\n\tx = 1  ", "😀👍🏽 e\u0301",
        "<|endoftext|>", "mixed 123 ٣٤ 'LL",
    ];

    private static Qwen2Tokenizer Reference => Qwen2TokenizerDifferentialTests.Ours;

    [Fact]
    public void Vocab_and_merges_give_the_same_ids_as_tokenizer_json()
    {
        string dir = Fixtures.TokenizerFolder;
        var fromFiles = Qwen2Tokenizer.FromVocabAndMerges(Path.Combine(dir, "vocab.json"), Path.Combine(dir, "merges.txt"), Path.Combine(dir, "tokenizer_config.json"));
        AssertSame(Reference, fromFiles);
    }

    [Fact]
    public void Folder_and_loader_prefer_tokenizer_json()
    {
        var t = TokenizerLoader.Load(Fixtures.TokenizerFolder);
        AssertSame(Reference, t);
        Assert.Equal(151646, t.VocabSize);
    }

    [Fact]
    public void Gguf_style_lists_give_the_same_ids()
    {
        // What convert_hf_to_gguf writes: every id up to the vocabulary size, added tokens as control (special)
        // or user-defined, ids with no token as unused padding, merges as "left right".
        var reference = Reference;
        int size = 151936;
        var tokens = Enumerable.Range(0, size).Select(i => reference.IsKnown(i) ? reference.IdToToken(i) : $"[PAD{i}]").ToArray();
        var types = Enumerable.Range(0, size).Select(i => !reference.IsKnown(i) ? 5 : reference.IsSpecial(i) ? 3 : 1).ToArray();
        var merges = File.ReadLines(Path.Combine(Fixtures.TokenizerFolder, "merges.txt")).Where(l => !l.StartsWith("#version")).ToArray();
        var t = Qwen2Tokenizer.FromVocabulary(tokens, types, merges);
        AssertSame(Reference, t);
        Assert.Equal("", t.Decode([151700, 151935]));
    }

    [Fact]
    public void Qwen25_added_tokens_match_hugging_face()
    {
        // Qwen2.5 / Qwen3 list 151646-151668; <tool_call>, <think> and friends are not special.
        string[] names = ["<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>",
            "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
            "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
            "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>", "<think>", "</think>"];
        using var dir = Fixtures.TempDir();
        var entries = names.Select((name, i) => Entry(151646 + i, name, special: !name.StartsWith("<t") && !name.StartsWith("</t"), strip: false)).ToList();
        // one with lstrip and rstrip, to check that white space beside it is swallowed as HF does
        entries.Add(Entry(151669, "<|strip|>", special: true, strip: true));
        // one matched as a single word only, and one matched in the NFC text
        entries.Add(Entry(151670, "<|sw|>", special: false, strip: false).Replace("\"single_word\": false", "\"single_word\": true"));
        entries.Add(Entry(151671, "caf\u00e9!", special: false, strip: false).Replace("\"normalized\": false", "\"normalized\": true"));
        string text = File.ReadAllText(Fixtures.Path("qwen2-tokenizer/tokenizer.json"));
        // after the last listed token: HF gives added tokens that are not in the vocabulary the next free ids in
        // list order (the "id" field only draws a warning), so real files list them in id order, as here
        int at = text.IndexOf("\n  ],", text.IndexOf("\"added_tokens\": [", StringComparison.Ordinal), StringComparison.Ordinal);
        text = text[..at] + "," + string.Join(",", entries) + text[at..];
        string path = dir.File("tokenizer.json");
        File.WriteAllText(path, text);
        var ours = Qwen2Tokenizer.FromTokenizerJson(path);
        var hf = HfTokenizer.Load(path);
        string[] texts =
        [
            "<tool_call>\n{\"name\": \"get_weather\"}\n</tool_call>", "<think>\nLet me think.\n</think>\n\nAnswer",
            "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>", "<|vision_start|><|image_pad|><|vision_end|>describe",
            "a <|strip|> b", "a\n\t<|strip|>\n\nb", "<|strip|>", "  <|strip|>", "<think></think><tool_response>x</tool_response>",
            "<|object_ref_start|>the cat<|object_ref_end|><|box_start|>(1,2)<|box_end|>", "<thinking> <tool_call", "<|im_start|>assistant\n<think>",
            "a<|sw|>b", "a <|sw|> b", "<|sw|>", "_<|sw|>", "é<|sw|>", "1<|sw|>!", "<|sw|><|sw|>", "x <|sw|>y",
            "cafe\u0301! café! cafe!", "caf\u00e9!<|im_end|>cafe\u0301!",
        ];
        foreach (string sample in texts) Assert.Equal(hf.Encode(sample), ours.Encode(sample));
        Assert.Equal(151672, ours.VocabSize);
        Assert.False(ours.IsSpecial(151667));
        Assert.True(ours.IsSpecial(151652));
        int[] ids = ours.Encode("<think>x</think><|vision_start|>");
        Assert.Equal("<think>x</think>", ours.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void Token_lookups_agree_with_the_vocabulary()
    {
        var t = Reference;
        Assert.Equal(151644, t.TokenToId("<|im_start|>"));
        Assert.Equal("Ġworld", t.IdToToken((int)t.TokenToId("Ġworld")!));
        Assert.Equal(" world"u8.ToArray(), t.TokenBytes((int)t.TokenToId("Ġworld")!).ToArray());
        Assert.Null(t.TokenToId("no such token at all"));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.IdToToken(999_999));
        Assert.True(t.IsSpecial(151643));
        Assert.False(t.IsSpecial(100));
    }

    [Fact]
    public void Another_model_type_is_refused_with_the_file_named()
    {
        using var dir = Fixtures.TempDir();
        string path = dir.File("tokenizer.json");
        File.WriteAllText(path, """{"added_tokens": [], "model": {"type": "WordPiece", "vocab": {"a": 0}}}""");
        var e = Assert.Throws<FormatException>(() => Qwen2Tokenizer.FromTokenizerJson(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("WordPiece", e.Message);
    }

    [Fact]
    public void Escaped_compact_and_reordered_files_give_the_same_ids()
    {
        // System.Text.Json's default writer escapes every non-ASCII character (\u0120, emoji as surrogate pairs),
        // '"' and '+', and writes no white space: the file's own reader must unescape all of it.
        using var dir = Fixtures.TempDir();
        var root = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Fixtures.Path("qwen2-tokenizer/tokenizer.json")))!.AsObject();
        File.WriteAllText(dir.File("escaped.json"), root.ToJsonString());
        string escaped = File.ReadAllText(dir.File("escaped.json"));
        Assert.Contains("\\u0120", escaped);
        Assert.DoesNotContain("\n  ", escaped);
        AssertSame(Reference, Qwen2Tokenizer.FromTokenizerJson(dir.File("escaped.json")));

        // merges as "left right" strings (tokenizers before 0.20), listed before the vocabulary
        var model = root["model"]!.AsObject();
        var merges = new System.Text.Json.Nodes.JsonArray(model["merges"]!.AsArray()
            .Select(m => (System.Text.Json.Nodes.JsonNode)$"{m![0]} {m[1]}").ToArray());
        var vocab = model["vocab"]!;
        model.Remove("merges");
        model.Remove("vocab");
        model["merges"] = merges;
        model["vocab"] = vocab;
        File.WriteAllText(dir.File("reordered.json"), root.ToJsonString(new JsonSerializerOptions
        {
            WriteIndented = true,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }));
        AssertSame(Reference, Qwen2Tokenizer.FromTokenizerJson(dir.File("reordered.json")));
    }

    [Theory]
    [InlineData("truncated", "the file ends inside the JSON")]
    [InlineData("bad escape", "unknown escape")]
    [InlineData("trailing text", "text after the closing brace")]
    [InlineData("id not a number", "expected an integer")]
    [InlineData("merge of three", "not a pair of tokens")]
    public void A_malformed_tokenizer_json_is_named_with_its_line(string damage, string expected)
    {
        using var dir = Fixtures.TempDir();
        string text = File.ReadAllText(Fixtures.Path("qwen2-tokenizer/tokenizer.json"));
        int vocabAt = text.IndexOf("\"vocab\": {", StringComparison.Ordinal);
        int mergesAt = text.IndexOf("\"merges\": [", StringComparison.Ordinal);
        int idAt = text.IndexOf("\"!\": 0", vocabAt, StringComparison.Ordinal);
        text = damage switch
        {
            "truncated" => text[..(mergesAt + 5000)],
            "bad escape" => text[..(idAt + 1)] + "\\q" + text[(idAt + 1)..],
            "trailing text" => text + "\n{}",
            "id not a number" => text[..(idAt + 5)] + "\"zero\"" + text[(idAt + 6)..],
            _ => text.Insert(text.IndexOf(']', mergesAt + 12), ", \"i\""),
        };
        string path = dir.File("tokenizer.json");
        File.WriteAllText(path, text);
        var e = Assert.Throws<FormatException>(() => Qwen2Tokenizer.FromTokenizerJson(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
        if (damage != "merge of three") Assert.Matches(@"line \d+", e.Message);
    }

    [Fact]
    public void Another_pre_tokenizer_is_refused()
    {
        using var dir = Fixtures.TempDir();
        string path = dir.File("tokenizer.json");
        string text = File.ReadAllText(Fixtures.Path("qwen2-tokenizer/tokenizer.json"));
        File.WriteAllText(path, text.Replace(@"\\s+(?!\\S)|\\s+""", @"\\s+""", StringComparison.Ordinal));
        var e = Assert.Throws<FormatException>(() => Qwen2Tokenizer.FromTokenizerJson(path));
        Assert.Contains("pre_tokenizer", e.Message);
    }

    [Fact]
    public void A_malformed_merges_line_is_named()
    {
        using var dir = Fixtures.TempDir();
        File.WriteAllText(dir.File("vocab.json"), JsonSerializer.Serialize(Enumerable.Range(0, 256)
            .ToDictionary(b => QwenSharp.Text.ByteLevelAlphabet.ByteToChar((byte)b).ToString(), b => b)));
        File.WriteAllText(dir.File("merges.txt"), "#version: 0.2\nĠ Ġ Ġ\na b\n");
        var e = Assert.Throws<FormatException>(() => Qwen2Tokenizer.FromVocabAndMerges(dir.File("vocab.json"), dir.File("merges.txt")));
        Assert.Contains("merges.txt line 2", e.Message);
        Assert.Contains("not a merge rule", e.Message);
        File.WriteAllText(dir.File("merges.txt"), "#version: 0.2\na b\n");
        e = Assert.Throws<FormatException>(() => Qwen2Tokenizer.FromVocabAndMerges(dir.File("vocab.json"), dir.File("merges.txt")));
        Assert.Contains("merges.txt line 2", e.Message);
        Assert.Contains("'ab'", e.Message);
    }

    [Fact]
    public void A_gguf_file_with_the_tokenizer_metadata_gives_the_same_ids()
    {
        // tokenizer.ggml.* written as llama.cpp's converter writes them (vocabulary padded to Qwen2-7B's 152,064)
        using var dir = Fixtures.TempDir();
        var export = QwenSharp.Formats.GgufTokenizerExport.FromHuggingFace(Fixtures.TokenizerFolder, 152064, 151645, 151643);
        var writer = new QwenSharp.Formats.GgufWriter();
        export.WriteTo(writer);
        writer.Write(dir.File("tokenizer-only.gguf"));
        var t = TokenizerLoader.Load(dir.File("tokenizer-only.gguf"));
        AssertSame(Reference, t);
        Assert.Equal(151646, t.VocabSize); // like len(tokenizer) in HF: padding rows name no token
    }

    [Fact]
    public void A_truncated_gguf_is_refused_with_the_file_named()
    {
        using var dir = Fixtures.TempDir();
        File.WriteAllBytes(dir.File("model.gguf"), [0x47, 0x47, 0x55, 0x46]);
        var e = Assert.ThrowsAny<Exception>(() => TokenizerLoader.Load(dir.File("model.gguf")));
        Assert.Contains("model.gguf", e.Message);
    }

    private static string Entry(int id, string content, bool special, bool strip) =>
        $$"""{"id": {{id}}, "content": "{{content}}", "single_word": false, "lstrip": {{(strip ? "true" : "false")}}, "rstrip": {{(strip ? "true" : "false")}}, "normalized": false, "special": {{(special ? "true" : "false")}}}""";

    private static void AssertSame(Qwen2Tokenizer expected, Qwen2Tokenizer actual)
    {
        foreach (string s in Samples.Concat(TokenizerCorpus.Mixtures(300, seed: 9)))
        {
            int[] ids = expected.Encode(s);
            Assert.Equal(ids, actual.Encode(s));
            Assert.Equal(expected.Decode(ids), actual.Decode(ids));
            Assert.Equal(expected.Decode(ids, skipSpecialTokens: true), actual.Decode(ids, skipSpecialTokens: true));
        }
    }
}
