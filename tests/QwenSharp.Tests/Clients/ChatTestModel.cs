using QwenSharp.Engine;
using QwenSharp.Formats;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Clients;

/// <summary>
/// A random Qwen2 model with the real Qwen2 tokenizer and chat template (vocabulary 151936, hidden 64), so that
/// chat prompts tokenize as in the released models; written once (embedding and lm_head are 39 MB each in f32).
/// </summary>
public static class ChatTestModel
{
    private static readonly object Gate = new();
    private static readonly Lazy<LoadedModel> Shared = new(() => LoadedModel.Load(Path, Options));

    public const int ImEnd = 151645, EndOfText = 151643;

    /// <summary>A KV cache sized for the small contexts the tests use.</summary>
    public static EngineOptions Options => new() { MaxModelLen = 512, KvCacheBytes = 4 << 20 };

    public static Qwen2Config Config => new()
    {
        Origin = "chat-test",
        HiddenSize = 64,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        NumHiddenLayers = 2,
        IntermediateSize = 128,
        VocabSize = 151936,
        // Untied: a random model with tied embeddings mostly repeats its last input token.
        TieWordEmbeddings = false,
        MaxPositionEmbeddings = 4096,
        RopeTheta = 1000000.0,
        RmsNormEps = 1e-6,
        EosTokenIds = [ImEnd],
        BosTokenId = EndOfText,
    };

    /// <summary>
    /// The file, kept in the temp folder across runs (its name carries everything that shapes it); a run that
    /// finds none writes it under a unique name and renames it into place, so concurrent runs never see half a file.
    /// </summary>
    public static string Path
    {
        get
        {
            string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "qwensharp-chat-tiny-h64-l2-untied-s11-v1.gguf");
            lock (Gate)
            {
                if (File.Exists(path)) return path;
                string temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
                var config = Config;
                RandomModel.WriteGguf(config, temporary, GgmlType.F32, 11,
                    GgufTokenizerExport.FromHuggingFace(Fixtures.TokenizerFolder, config.VocabSize, ImEnd, EndOfText));
                try
                {
                    File.Move(temporary, path);
                }
                catch (IOException) when (File.Exists(path))
                {
                    File.Delete(temporary);
                }
            }
            return path;
        }
    }

    /// <summary>One loaded instance shared by the tests of a run (the engine serves concurrent requests).</summary>
    public static LoadedModel Loaded => Shared.Value;

    /// <summary>Qwen2's ChatML as the model card's template writes it, spelt out by hand as the reference.</summary>
    public static string ChatMl(params (string Role, string Content)[] messages)
    {
        var text = new System.Text.StringBuilder();
        if (messages.Length == 0 || messages[0].Role != "system")
            text.Append("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n");
        foreach (var (role, content) in messages) text.Append($"<|im_start|>{role}\n{content}<|im_end|>\n");
        return text.Append("<|im_start|>assistant\n").ToString();
    }
}
