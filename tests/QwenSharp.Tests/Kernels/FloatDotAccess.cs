using QwenSharp.Tensors;

namespace QwenSharp.Tests.Kernels;

internal static unsafe class FloatDotAccess
{
    public static void ToSingle(GgmlType type, byte* w, float* dst, int n) => QwenSharp.Kernels.FloatDot.ToSingle(type, w, dst, n);
}
