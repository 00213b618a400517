namespace QwenSharp.Generation.Stages;

/// <summary>
/// vLLM's min_tokens: until the output holds that many tokens, the ids that would end it (eos ids, even with
/// ignore_eos, and stop_token_ids: vLLM's all_stop_token_ids) cannot be chosen.
/// </summary>
public sealed class MinTokensStage(int minTokens, IReadOnlyCollection<int> stopIds) : ILogitsStage
{
    private readonly int[] _stopIds = [.. stopIds];

    public void Apply(Span<float> logits, TokenHistory history)
    {
        if (history.OutputLength >= minTokens) return;
        foreach (int id in _stopIds)
            if ((uint)id < (uint)logits.Length) logits[id] = float.NegativeInfinity;
    }
}
