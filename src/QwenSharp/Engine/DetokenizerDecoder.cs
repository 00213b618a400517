using QwenSharp.Generation;
using QwenSharp.Text;

namespace QwenSharp.Engine;

/// <summary>The Text layer's streaming detokenizer as the Generation layer's incremental decoder.</summary>
public sealed class DetokenizerDecoder(Qwen2Tokenizer tokenizer, bool skipSpecialTokens) : IIncrementalDecoder
{
    private readonly StreamingDetokenizer _detokenizer = new(tokenizer, skipSpecialTokens);

    public string Push(int tokenId) => _detokenizer.Push(tokenId);

    public string Flush() => _detokenizer.Flush();
}
