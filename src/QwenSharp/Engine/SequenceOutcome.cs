namespace QwenSharp.Engine;

/// <summary>
/// What happened to one scheduled sequence after the step ran: the token sampled from its logits (only for a
/// sequence whose <see cref="ScheduledSequence.WantsLogits"/> was set) and whether it is finished (stop token,
/// stop string, length: the caller decides).
/// </summary>
public readonly record struct SequenceOutcome(long SequenceId, int? NewToken, bool Finished);
