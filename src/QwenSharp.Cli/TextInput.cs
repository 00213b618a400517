namespace QwenSharp.Cli;

/// <summary>Text to token ids with the model's own tokenizer.</summary>
public static class TextInput
{
    public static int[] Tokenize(string modelPath, string text) =>
        throw new CliException("This build reads --tokens only; the tokenizer is not wired yet.");
}
