using System.Numerics.Tensors;

namespace QwenSharp.Kernels;

/// <summary>The Qwen2 MLP's gate: dst = silu(gate) · up, silu(g) = g / (1 + e^−g).</summary>
public static class SwiGlu
{
    public static void Apply(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> dst)
    {
        if (up.Length != gate.Length || dst.Length < gate.Length)
            throw new ArgumentException($"SwiGLU of {gate.Length} gate values needs {gate.Length} up values (got {up.Length}) and a destination of at least {gate.Length} (got {dst.Length}).");
        var d = dst[..gate.Length];
        // silu(g) = g · sigmoid(g); TensorPrimitives.Sigmoid is vectorized.
        TensorPrimitives.Sigmoid(gate, d);
        TensorPrimitives.Multiply(d, gate, d);
        TensorPrimitives.Multiply(d, up, d);
    }
}
