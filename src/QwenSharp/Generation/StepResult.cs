namespace QwenSharp.Generation;

/// <summary>
/// What one sampling step produced for a sequence: the chosen id, its logprobs when asked for, the text that
/// is safe to show now (whole characters, never part of a stop string; often empty), and why the sequence
/// ended if this step ended it.
/// </summary>
public readonly record struct StepResult(int TokenId, TokenLogprob? Logprob, string TextDelta, FinishReason? Finish)
{
    public bool IsFinished => Finish is not null;
}
