using System.Text.Json;
using QwenSharp.Formats;

namespace QwenSharp.Text;

/// <summary>
/// Reads the other form Qwen checkpoints ship: vocab.json (byte-level spelling → id), merges.txt (one
/// "left right" rule per line after an optional "#version" line, as HF's BPE::read_file reads it) and the
/// added tokens listed in tokenizer_config.json's added_tokens_decoder.
/// </summary>
internal static class VocabMergesReader
{
    public static Qwen2Tokenizer Read(string vocabPath, string mergesPath, string? configPath)
    {
        var vocab = ReadVocab(vocabPath);
        var merges = new List<(int, int, int)>();
        if (!File.Exists(mergesPath)) throw new FileNotFoundException($"Merges file {mergesPath} does not exist.", mergesPath);
        Func<int, string> where = line => $"{mergesPath} line {line}";
        int lineNumber = 0;
        foreach (string line in File.ReadLines(mergesPath))
        {
            lineNumber++;
            if (line.StartsWith("#version", StringComparison.Ordinal) || line.Length == 0) continue;
            merges.Add(MergeResolver.Resolve(vocab, line, where, lineNumber));
        }
        var added = configPath != null ? ReadAddedTokensDecoder(configPath) : new List<AddedToken>();
        return new Qwen2Tokenizer(vocab, merges, added, vocabPath);
    }

    private static VocabularyIndex ReadVocab(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Vocabulary file {path} does not exist.", path);
        using var file = MappedFile.Open(path);
        if (file.Length > int.MaxValue) throw new FormatException($"{path} is {file.Length} bytes; a vocab.json is at most 2 GB.");
        var data = file.Span(0, (int)file.Length);
        if (!System.Text.Unicode.Utf8.IsValid(data)) throw new FormatException($"{path} is not UTF-8 text, so it is not a vocab.json.");
        var vocab = new VocabularyIndex(Math.Min(data.Length / 16, 1 << 18));
        var json = new JsonByteScanner(data, path);
        BpeModelSection.ReadVocabulary(ref json, vocab);
        if (json.Peek() != -1) throw json.Fail("text after the closing brace");
        return vocab;
    }

    private static List<AddedToken> ReadAddedTokensDecoder(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Tokenizer config {path} does not exist.", path);
        var added = new List<AddedToken>();
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (!doc.RootElement.TryGetProperty("added_tokens_decoder", out var decoder)) return added;
            foreach (var entry in decoder.EnumerateObject())
            {
                if (!int.TryParse(entry.Name, out int id))
                    throw new FormatException($"{path}: added_tokens_decoder key '{entry.Name}' is not a token id.");
                var t = entry.Value;
                if (!t.TryGetProperty("content", out var content))
                    throw new FormatException($"{path}: added_tokens_decoder[{id}] has no \"content\".");
                added.Add(new AddedToken(id, content.GetString()!, TokenizerJsonReader.Bool(t, "special"),
                    TokenizerJsonReader.Bool(t, "lstrip"), TokenizerJsonReader.Bool(t, "rstrip"),
                    TokenizerJsonReader.Bool(t, "normalized"), TokenizerJsonReader.Bool(t, "single_word")));
            }
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path} is not valid JSON (line {e.LineNumber + 1}): {e.Message}", e);
        }
        return added;
    }
}
