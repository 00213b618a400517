namespace QwenSharp.Text;

/// <summary>The one place that turns a model path (a folder, a tokenizer.json, a .gguf file) into its tokenizer.</summary>
public static class TokenizerLoader
{
    public static Qwen2Tokenizer Load(string modelPath)
    {
        if (Directory.Exists(modelPath)) return Qwen2Tokenizer.FromFolder(modelPath);
        if (!File.Exists(modelPath)) throw new FileNotFoundException($"Model path {modelPath} is neither a folder nor a file.", modelPath);
        if (modelPath.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            throw new FormatException($"GGUF tokenizers are loaded by the GGUF reader (Qwen2Tokenizer.FromVocabulary over tokenizer.ggml.*), which is not wired to {modelPath} yet; pass the model's Hugging Face folder instead.");
        if (Path.GetFileName(modelPath).Equals("tokenizer.json", StringComparison.OrdinalIgnoreCase))
            return Qwen2Tokenizer.FromTokenizerJson(modelPath);
        throw new FormatException($"{modelPath} is not a model folder, a tokenizer.json or a .gguf file.");
    }
}
