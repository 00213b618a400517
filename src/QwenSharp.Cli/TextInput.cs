using QwenSharp.Text;

namespace QwenSharp.Cli;

/// <summary>Text to token ids with the model's own tokenizer.</summary>
public static class TextInput
{
    public static int[] Tokenize(string modelPath, string text) => TokenizerLoader.Load(ModelPaths.Resolve(modelPath)).Encode(text);
}
