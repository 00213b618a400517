namespace QwenSharp.Generation.Stages;

/// <summary>
/// HF's RepetitionPenaltyLogitsProcessor (CTRL, Keskar et al. 2019), as vLLM applies it: every distinct id
/// of prompt and output has its logit divided by the penalty when positive, multiplied when negative.
/// </summary>
public sealed class RepetitionPenaltyStage(float penalty) : ILogitsStage
{
    public float Penalty { get; } = penalty;

    public void Apply(Span<float> logits, TokenHistory history)
    {
        var seen = history.SeenEnumerator();
        while (seen.MoveNext())
        {
            int id = seen.Current;
            if ((uint)id >= (uint)logits.Length) continue;
            float x = logits[id];
            logits[id] = x > 0 ? x / Penalty : x * Penalty;
        }
    }
}
