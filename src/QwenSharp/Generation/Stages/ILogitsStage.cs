namespace QwenSharp.Generation.Stages;

/// <summary>
/// One step of the processor chain: rewrites the logits of one sequence in place (a removed token becomes
/// -infinity). Stages allocate nothing per token; those that need room work in a shared <see cref="SamplingScratch"/>.
/// </summary>
public interface ILogitsStage
{
    void Apply(Span<float> logits, TokenHistory history);
}
