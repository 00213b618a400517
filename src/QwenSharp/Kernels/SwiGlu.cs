using System.Numerics.Tensors;

namespace QwenSharp.Kernels;

/// <summary>The Qwen2 MLP's gate: dst = silu(gate) · up, silu(g) = g / (1 + e^−g).</summary>
public static class SwiGlu
{
    public static void Apply(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> dst)
    {
        if (up.Length != gate.Length || dst.Length < gate.Length)
            throw new ArgumentException($"SwiGLU of {gate.Length} gate values needs {gate.Length} up values (got {up.Length}) and a destination of at least {gate.Length} (got {dst.Length}).");
        // silu(g) = g · sigmoid(g); TensorPrimitives.Sigmoid is vectorized. Chunks through a stack buffer so
        // that dst may be the gate or the up buffer itself (the model computes the MLP in place).
        Span<float> tmp = stackalloc float[256];
        for (int i = 0; i < gate.Length; i += tmp.Length)
        {
            int n = Math.Min(tmp.Length, gate.Length - i);
            var t = tmp[..n];
            TensorPrimitives.Sigmoid(gate.Slice(i, n), t);
            TensorPrimitives.Multiply(t, gate.Slice(i, n), t);
            TensorPrimitives.Multiply(t, up.Slice(i, n), dst.Slice(i, n));
        }
    }
}
