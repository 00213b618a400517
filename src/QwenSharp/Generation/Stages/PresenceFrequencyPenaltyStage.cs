namespace QwenSharp.Generation.Stages;

/// <summary>
/// OpenAI's presence and frequency penalties as vLLM applies them, over output tokens only:
/// logit[id] -= frequency_penalty * count(id) + presence_penalty * (count(id) &gt; 0).
/// </summary>
public sealed class PresenceFrequencyPenaltyStage(float presencePenalty, float frequencyPenalty) : ILogitsStage
{
    public void Apply(Span<float> logits, TokenHistory history)
    {
        var counts = history.OutputCountsEnumerator();
        while (counts.MoveNext())
        {
            var (id, count) = counts.Current;
            if ((uint)id >= (uint)logits.Length) continue;
            logits[id] -= frequencyPenalty * count + presencePenalty;
        }
    }
}
