using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Kernels;

/// <summary>Matrices multiplied as one job (<see cref="MatMul.MultiplySiblings"/>) give exactly what each gives alone:
/// the same kernels see the same activations, only the cut of rows into parts differs.</summary>
public class SiblingMatMulTests
{
    /// <summary>Row counts of whole 8-row groups (q/k/v-like), with tails (so the panel and the row kernels mix), a
    /// sibling of another format or width (it runs on its own), and the float path (F16 panels of 32 rows).</summary>
    [Theory]
    [InlineData(GgmlType.Q8_0, 96, 16, 16, GgmlType.Q8_0, 256)]
    [InlineData(GgmlType.Q4_0, 21, 13, 7, GgmlType.Q4_0, 256)]
    [InlineData(GgmlType.Q4_K, 40, 8, 8, GgmlType.Q6_K, 512)]
    [InlineData(GgmlType.Q8_0, 24, 40, 0, GgmlType.Q8_0, 128)]
    [InlineData(GgmlType.Q8_0, 16, 8, 5, GgmlType.Q8_0, 256)]
    [InlineData(GgmlType.F16, 64, 32, 33, GgmlType.F16, 128)]
    public void EqualsEachMatrixAlone(GgmlType type, int rows0, int rows1, int rows2, GgmlType type2, int cols)
    {
        using var m0 = NativeMatrix.Quantized(type, TestData.Normal(rows0 * cols, 1, 0.05f), rows0, cols);
        using var m1 = NativeMatrix.Quantized(type, TestData.Normal(rows1 * cols, 2, 0.05f), rows1, cols);
        using var m2 = rows2 == 0 ? null : NativeMatrix.Quantized(type2, TestData.Normal(rows2 * cols, 3, 0.05f), rows2, cols);
        foreach (int tokens in new[] { 1, 2, 5, 8, 70 })
        {
            var x = TestData.Normal(tokens * cols, 4 + tokens);
            var (y0, y1, y2) = (new float[tokens * rows0], new float[tokens * rows1], new float[tokens * rows2]);
            MatMul.MultiplySiblings(x, tokens, m0.View, y0, m1.View, y1, m2?.View, y2);
            Same(m0.View, x, tokens, y0);
            Same(m1.View, x, tokens, y1);
            if (m2 != null) Same(m2.View, x, tokens, y2);
        }
    }

    private static void Same(TensorView w, float[] x, int tokens, float[] together)
    {
        var alone = new float[together.Length];
        MatMul.Multiply(w, x, alone, tokens);
        for (int i = 0; i < alone.Length; i++)
            Assert.True(alone[i] == together[i], $"{w.Type} [{w.ShapeText}] × {tokens} tokens, output {i}: {together[i]} in one job, {alone[i]} alone.");
    }
}
