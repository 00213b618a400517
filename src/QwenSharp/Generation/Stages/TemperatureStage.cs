namespace QwenSharp.Generation.Stages;

/// <summary>Divides the logits by the temperature (softmax(logits / T)), as vLLM and HF's TemperatureLogitsWarper.</summary>
public sealed class TemperatureStage(float temperature) : ILogitsStage
{
    public float Temperature { get; } = temperature;

    public void Apply(Span<float> logits, TokenHistory history) =>
        System.Numerics.Tensors.TensorPrimitives.Divide(logits, Temperature, logits);
}
