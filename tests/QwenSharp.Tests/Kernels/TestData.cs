using System.Runtime.InteropServices;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Kernels;

internal static class TestData
{
    /// <summary>Normally distributed values (Box–Muller), with a few blocks that stress the quantizers:
    /// all zero, constant, a single outlier, all positive.</summary>
    public static float[] Normal(int n, int seed, float scale = 1f, bool edgeBlocks = true)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            x[i] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2)) * scale;
        }
        if (edgeBlocks && n >= 1024)
        {
            Array.Clear(x, 0, 256);
            Array.Fill(x, 0.37f * scale, 256, 64);
            x[400] = 40 * scale;
            for (int i = 512; i < 768; i++) x[i] = MathF.Abs(x[i]) + 0.1f;
        }
        return x;
    }
}

/// <summary>A matrix in unmanaged memory, as a TensorView would see it in a memory map.</summary>
internal sealed unsafe class NativeMatrix : IDisposable
{
    public NativeMatrix(GgmlType type, int rows, int cols, byte[] bytes)
    {
        Pointer = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, bytes.Length), 64);
        bytes.AsSpan().CopyTo(new Span<byte>(Pointer, bytes.Length));
        View = new TensorView("test.weight", type, [rows, cols], Pointer, bytes.Length);
    }

    public static NativeMatrix Quantized(GgmlType type, float[] values, int rows, int cols)
    {
        long rowBytes = GgmlTypeInfo.RowBytes(type, cols);
        var bytes = new byte[rowBytes * rows];
        for (int r = 0; r < rows; r++)
            QwenSharp.Kernels.Quantize.Row(type, values.AsSpan(r * cols, cols), bytes.AsSpan((int)(r * rowBytes), (int)rowBytes));
        return new NativeMatrix(type, rows, cols, bytes);
    }

    public byte* Pointer { get; }
    public TensorView View { get; }

    public void Dispose() => NativeMemory.AlignedFree(Pointer);
}
