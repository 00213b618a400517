using System.Numerics.Tensors;

namespace QwenSharp.Kernels;

/// <summary>RMSNorm as Hugging Face's Qwen2RMSNorm and llama.cpp's rms_norm + mul compute it:
/// dst = x · 1/sqrt(mean(x²) + eps) · weight, the mean of squares summed in f32.</summary>
public static class RmsNorm
{
    public static void Apply(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> dst)
    {
        if (weight.Length != x.Length || dst.Length < x.Length)
            throw new ArgumentException($"RMSNorm of {x.Length} values needs a weight of {x.Length} (got {weight.Length}) and a destination of at least {x.Length} (got {dst.Length}).");
        if (x.Length == 0) return;
        float sumSquares = TensorPrimitives.SumOfSquares(x);
        float scale = 1f / MathF.Sqrt(sumSquares / x.Length + eps);
        TensorPrimitives.Multiply(x, scale, dst[..x.Length]);
        TensorPrimitives.Multiply(dst[..x.Length], weight, dst[..x.Length]);
    }
}
