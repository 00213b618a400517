using QwenSharp.Formats;

namespace QwenSharp.Text;

/// <summary>The one place that turns a model path (a folder, a tokenizer.json, a .gguf file) into its tokenizer.</summary>
public static class TokenizerLoader
{
    public static Qwen2Tokenizer Load(string modelPath)
    {
        if (Directory.Exists(modelPath)) return Qwen2Tokenizer.FromFolder(modelPath);
        if (!File.Exists(modelPath)) throw new FileNotFoundException($"Model path {modelPath} is neither a folder nor a file.", modelPath);
        if (GgufProbe.IsGguf(modelPath))
        {
            using var gguf = GgufFile.Open(modelPath);
            return FromGguf(gguf);
        }
        if (Path.GetFileName(modelPath).Equals("tokenizer.json", StringComparison.OrdinalIgnoreCase))
            return Qwen2Tokenizer.FromTokenizerJson(modelPath);
        throw new FormatException($"{modelPath} is not a model folder, a tokenizer.json or a .gguf file.");
    }

    /// <summary>The tokenizer a GGUF file carries in its tokenizer.ggml.* metadata (a file alone is a complete model).</summary>
    public static Qwen2Tokenizer FromGguf(GgufFile gguf)
    {
        var m = gguf.Metadata;
        string model = m.TryGetString(GgufNames.Keys.TokenizerModel, out var t) ? t : "(none)";
        if (model != "gpt2")
            throw new FormatException($"{gguf.Path}: tokenizer.ggml.model is '{model}'; QwenSharp reads byte-level BPE ('gpt2') vocabularies.");
        var tokens = (string[])m.GetArray(GgufNames.Keys.Tokens).Items;
        var types = m.TryGetArray(GgufNames.Keys.TokenType, out var ta) ? ToInts(ta) : Enumerable.Repeat(1, tokens.Length).ToArray();
        var merges = m.TryGetArray(GgufNames.Keys.Merges, out var ma) ? (string[])ma.Items : [];
        return Qwen2Tokenizer.FromVocabulary(tokens, types, merges);
    }

    private static int[] ToInts(GgufArray array) => array.Items switch
    {
        int[] ints => ints,
        uint[] uints => uints.Select(u => (int)u).ToArray(),
        _ => throw new FormatException($"tokenizer.ggml.token_type holds {array.ElementType} values, not integers."),
    };
}
