namespace QwenSharp.Grammar;

/// <summary>
/// Where one sequence stands in a <see cref="CompiledGrammar"/>: which tokens may come next, and the advance by the
/// chosen one. Not thread-safe (one sequence, one thread at a time).
/// </summary>
public sealed class GrammarMatcher
{
    public GrammarMatcher(CompiledGrammar grammar) => throw new NotImplementedException();

    /// <summary>Sets bit id of <paramref name="allowed"/> (length ≥ ceil(Size/64)) for every token that may come next:
    /// tokens whose bytes continue the text within the grammar, and the end ids when <see cref="CanEnd"/>. Never empty.</summary>
    public void FillMask(Span<ulong> allowed) => throw new NotImplementedException();

    /// <summary>Sets the logit of every token that may not come next to negative infinity.</summary>
    public void ApplyMask(Span<float> logits) => throw new NotImplementedException();

    /// <summary>Advances by a token's bytes (an end id ends the text). False, with nothing changed, if the grammar does not allow it.</summary>
    public bool AcceptToken(int tokenId) => throw new NotImplementedException();

    /// <summary>Advances by raw bytes (e.g. text already generated before the grammar applied). False, with nothing changed, if not allowed.</summary>
    public bool AcceptBytes(ReadOnlySpan<byte> bytes) => throw new NotImplementedException();

    /// <summary>The text so far is a complete sentence of the grammar: an end token may come next.</summary>
    public bool CanEnd => throw new NotImplementedException();

    /// <summary>Complete, and no byte may follow: only an end token may come next.</summary>
    public bool MustEnd => throw new NotImplementedException();

    /// <summary>An end token was accepted.</summary>
    public bool IsTerminated => throw new NotImplementedException();
}
