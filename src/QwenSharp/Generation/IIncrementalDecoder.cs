namespace QwenSharp.Generation;

/// <summary>
/// Token ids to text, one token at a time, returning only whole characters: a token that ends inside a
/// multi-byte UTF-8 character returns "" and the character comes with the token that completes it.
/// The Text layer's streaming detokenizer has this shape (it also decides whether special tokens are skipped).
/// </summary>
public interface IIncrementalDecoder
{
    /// <summary>The text that became complete with this token (often "", never a broken character).</summary>
    string Push(int tokenId);

    /// <summary>Whatever is still buffered at the end of the sequence (incomplete bytes become U+FFFD).</summary>
    string Flush();
}
