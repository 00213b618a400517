namespace QwenSharp.Text;

/// <summary>
/// A token matched whole in the text before BPE (HF's AddedToken): Qwen's &lt;|im_start|&gt; and friends.
/// <paramref name="Special"/> tokens are dropped by decoding with skipSpecialTokens. <paramref name="Normalized"/>
/// ones are matched in the NFC text, the others in the raw text. LStrip/RStrip swallow the white space beside
/// a match; SingleWord matches only between non-word characters.
/// </summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool LStrip = false, bool RStrip = false,
    bool Normalized = false, bool SingleWord = false);
