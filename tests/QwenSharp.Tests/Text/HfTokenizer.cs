namespace QwenSharp.Tests.Text;

/// <summary>
/// The reference: Hugging Face tokenizers 0.22.2 (Rust) through Tokenizers.DotNet 1.4.1. It takes only valid
/// Unicode, so callers pass text whose lone surrogates are already replaced.
/// </summary>
internal sealed class HfTokenizer
{
    private static readonly Dictionary<string, HfTokenizer> s_loaded = new();
    private readonly Tokenizers.DotNet.Tokenizer _tokenizer;

    private HfTokenizer(string path) => _tokenizer = new Tokenizers.DotNet.Tokenizer(vocabPath: path);

    /// <summary>One instance per file for the whole test run (loading costs about a second).</summary>
    public static HfTokenizer Load(string tokenizerJson)
    {
        lock (s_loaded)
        {
            if (!s_loaded.TryGetValue(tokenizerJson, out var t)) s_loaded[tokenizerJson] = t = new HfTokenizer(tokenizerJson);
            return t;
        }
    }

    public int[] Encode(string text)
    {
        lock (this) return _tokenizer.Encode(text).Select(u => (int)u).ToArray();
    }

    public string Decode(IEnumerable<int> ids)
    {
        lock (this) return _tokenizer.Decode(ids.Select(i => (uint)i).ToArray());
    }
}
