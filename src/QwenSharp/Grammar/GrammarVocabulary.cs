using QwenSharp.Text;

namespace QwenSharp.Grammar;

/// <summary>
/// The vocabulary as a grammar sees it: the bytes each token id spells (byte-level BPE, so a token may end
/// inside a UTF-8 character), which ids end the text (eos, stop ids: allowed only where the grammar is
/// complete), and the ids that are never allowed (special tokens, padding rows of the logits beyond the
/// tokenizer). Built once per model and shared by every compiled grammar.
/// </summary>
public sealed class GrammarVocabulary
{
    /// <param name="tokenBytes">Bytes per id, one entry per logit; null for an id a grammar never allows.</param>
    /// <param name="endTokenIds">Ids that end the text.</param>
    public GrammarVocabulary(IReadOnlyList<byte[]?> tokenBytes, IReadOnlyCollection<int> endTokenIds)
    {
        throw new NotImplementedException();
    }

    /// <summary>From the tokenizer: special tokens have no bytes (never allowed) unless they are end ids;
    /// non-special added tokens (e.g. Qwen2.5's &lt;tool_call&gt;) spell their content.</summary>
    public static GrammarVocabulary FromTokenizer(Qwen2Tokenizer tokenizer, int logitsLength, IReadOnlyCollection<int> endTokenIds) =>
        throw new NotImplementedException();

    /// <summary>Number of logits (token ids) a mask covers.</summary>
    public int Size => throw new NotImplementedException();

    /// <summary>The ids that end the text.</summary>
    public IReadOnlyCollection<int> EndTokenIds => throw new NotImplementedException();
}
