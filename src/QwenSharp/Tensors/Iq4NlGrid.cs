namespace QwenSharp.Tensors;

/// <summary>
/// The 16 levels IQ4_NL and IQ4_XS nibbles index (ggml-common.h's kvalues_iq4nl): a non-linear grid, denser near
/// zero, that fits the bell-shaped distribution of weights better than Q4_0's evenly spaced -8..7. Part of the
/// file format, so it is the same in every implementation.
/// </summary>
public static class Iq4NlGrid
{
    public static ReadOnlySpan<sbyte> Values => [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];
}
