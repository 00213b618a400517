using QwenSharp.Text;

namespace QwenSharp.Server.Backend;

/// <summary>The engine's per-sequence decoder over the Text layer's UTF-8-safe streaming detokenizer.</summary>
public sealed class DetokenizerDecoder(Qwen2Tokenizer tokenizer, bool skipSpecialTokens) : Generation.IIncrementalDecoder
{
    private readonly StreamingDetokenizer _detokenizer = new(tokenizer, skipSpecialTokens);

    public string Push(int tokenId) => _detokenizer.Push(tokenId);

    public string Flush() => _detokenizer.Flush();
}
