using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

/// <summary>
/// The fast dot products, one per weight format, chosen once per matmul as a function pointer
/// (w, activations in the weight's vec_dot type, n). Each has its twin in <see cref="DotPlain"/>.
/// </summary>
internal static unsafe partial class DotFast
{
    public static delegate*<byte*, byte*, int, float> Select(GgmlType type) => type switch
    {
        GgmlType.F32 => &F32,
        GgmlType.F16 => &F16,
        GgmlType.BF16 => &BF16,
        GgmlType.Q4_0 => &Q4_0,
        GgmlType.Q4_1 => &Q4_1,
        GgmlType.Q5_0 => &Q5_0,
        GgmlType.Q5_1 => &Q5_1,
        GgmlType.Q8_0 => &Q8_0,
        GgmlType.Q2_K => &Q2_K,
        GgmlType.Q3_K => &Q3_K,
        GgmlType.Q4_K => &Q4_K,
        GgmlType.Q5_K => &Q5_K,
        GgmlType.Q6_K => &Q6_K,
        _ => throw new NotSupportedException($"No dot product for {type} weights."),
    };

    private static float F32(byte* w, byte* a, int n) =>
        System.Numerics.Tensors.TensorPrimitives.Dot(new ReadOnlySpan<float>(w, n), new ReadOnlySpan<float>(a, n));

    private static float F16(byte* w, byte* a, int n) => DotPlain.F16((ushort*)w, (ushort*)a, n);
    private static float BF16(byte* w, byte* a, int n) => DotPlain.BF16((ushort*)w, (ushort*)a, n);
    private static float Q4_0(byte* w, byte* a, int n) => DotPlain.Q4_0((BlockQ4_0*)w, (BlockQ8_0*)a, n / 32);
    private static float Q4_1(byte* w, byte* a, int n) => DotPlain.Q4_1((BlockQ4_1*)w, (BlockQ8_1*)a, n / 32);
    private static float Q5_0(byte* w, byte* a, int n) => DotPlain.Q5_0((BlockQ5_0*)w, (BlockQ8_0*)a, n / 32);
    private static float Q5_1(byte* w, byte* a, int n) => DotPlain.Q5_1((BlockQ5_1*)w, (BlockQ8_1*)a, n / 32);
    private static float Q8_0(byte* w, byte* a, int n) => DotPlain.Q8_0((BlockQ8_0*)w, (BlockQ8_0*)a, n / 32);
    private static float Q2_K(byte* w, byte* a, int n) => DotPlain.KQuant(GgmlType.Q2_K, w, (BlockQ8_K*)a, n / 256);
    private static float Q3_K(byte* w, byte* a, int n) => DotPlain.KQuant(GgmlType.Q3_K, w, (BlockQ8_K*)a, n / 256);
    private static float Q4_K(byte* w, byte* a, int n) => DotPlain.KQuant(GgmlType.Q4_K, w, (BlockQ8_K*)a, n / 256);
    private static float Q5_K(byte* w, byte* a, int n) => DotPlain.KQuant(GgmlType.Q5_K, w, (BlockQ8_K*)a, n / 256);
    private static float Q6_K(byte* w, byte* a, int n) => DotPlain.KQuant(GgmlType.Q6_K, w, (BlockQ8_K*)a, n / 256);
}
