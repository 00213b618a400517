using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Kernels;

/// <summary>One job over several one-token products (<see cref="MatMul.MultiplyGroup"/>) against one
/// <see cref="MatMul.Multiply(TensorView, ReadOnlySpan{float}, Span{float}, int, WorkerPool)"/> per matrix: bitwise equal,
/// whatever the thread count, with mixed formats (an F32 router beside quantized experts), widths, shared and distinct
/// inputs, and row counts that are not whole units of 4.</summary>
public class MatMulGroupTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public unsafe void GroupMatchesOneProductPerMatrixBitwise(int threads)
    {
        using var pool = new WorkerPool(threads);
        // (format, rows, cols, input): inputs 0 and 1 are 512 wide, input 2 is 256 wide.
        (GgmlType Type, int Rows, int Cols, int Input)[] shapes =
        [
            (GgmlType.F32, 13, 512, 0), (GgmlType.Q4_0, 1030, 512, 0), (GgmlType.Q4_0, 1030, 512, 0),
            (GgmlType.Q8_0, 517, 512, 1), (GgmlType.Q4_K, 258, 256, 2), (GgmlType.Q4_0, 3, 512, 1),
            (GgmlType.F16, 70, 256, 2), (GgmlType.Q6_K, 64, 512, 0),
        ];
        var inputs = new[] { TestData.Normal(512, 1), TestData.Normal(512, 2), TestData.Normal(256, 3) };
        var matrices = shapes.Select((s, i) =>
            NativeMatrix.Quantized(s.Type, TestData.Normal(s.Rows * s.Cols, 10 + i, 0.1f, edgeBlocks: false), s.Rows, s.Cols)).ToArray();
        try
        {
            var grouped = shapes.Select(s => new float[s.Rows]).ToArray();
            var alone = shapes.Select(s => new float[s.Rows]).ToArray();
            for (int i = 0; i < shapes.Length; i++) MatMul.Multiply(matrices[i].View, inputs[shapes[i].Input], alone[i], 1, pool);

            fixed (float* x0 = inputs[0], x1 = inputs[1], x2 = inputs[2])
            {
                float*[] x = [x0, x1, x2];
                var handles = grouped.Select(g => System.Runtime.InteropServices.GCHandle.Alloc(g, System.Runtime.InteropServices.GCHandleType.Pinned)).ToArray();
                try
                {
                    var products = new GroupProduct[shapes.Length];
                    for (int i = 0; i < shapes.Length; i++)
                        products[i] = new(matrices[i].View, x[shapes[i].Input], shapes[i].Cols, (float*)handles[i].AddrOfPinnedObject(), shapes[i].Rows);
                    MatMul.MultiplyGroup(products, pool);
                }
                finally
                {
                    foreach (var h in handles) h.Free();
                }
            }
            for (int i = 0; i < shapes.Length; i++)
                for (int r = 0; r < shapes[i].Rows; r++)
                    Assert.True(BitConverter.SingleToInt32Bits(alone[i][r]) == BitConverter.SingleToInt32Bits(grouped[i][r]),
                        $"product {i} ({shapes[i].Type}) row {r}: grouped {grouped[i][r]} alone {alone[i][r]}.");
        }
        finally
        {
            foreach (var m in matrices) m.Dispose();
        }
    }

    [Fact]
    public unsafe void AProductWhoseInputIsTooShortIsRefused()
    {
        using var m = NativeMatrix.Quantized(GgmlType.Q8_0, TestData.Normal(4 * 64, 1, 0.1f, edgeBlocks: false), 4, 64);
        var x = new float[32];
        var y = new float[4];
        fixed (float* px = x, py = y)
        {
            var products = new[] { new GroupProduct(m.View, px, x.Length, py, y.Length) };
            var e = Assert.Throws<ArgumentException>(() => MatMul.MultiplyGroup(products, WorkerPool.Shared));
            Assert.Contains("needs 64 inputs", e.Message);
        }
    }
}
