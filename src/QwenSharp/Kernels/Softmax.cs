using System.Numerics.Tensors;

namespace QwenSharp.Kernels;

/// <summary>Softmax in place, max-subtracted so that large logits do not overflow exp.</summary>
public static class Softmax
{
    public static void InPlace(Span<float> values)
    {
        if (values.Length == 0) return;
        float max = TensorPrimitives.Max(values);
        if (float.IsNegativeInfinity(max))
            throw new ArgumentException("Softmax over values that are all -infinity is undefined.");
        TensorPrimitives.Subtract(values, max, values);
        TensorPrimitives.Exp(values, values);
        float sum = TensorPrimitives.Sum(values);
        TensorPrimitives.Multiply(values, 1f / sum, values);
    }
}
