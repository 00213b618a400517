using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels.Arm64;

/// <summary>
/// The ARM64 integer dot products of quantized weight rows against 8-bit activations (Q8_0 blocks for Q8_0, Q4_0,
/// Q5_0, IQ4_NL; Q8_1 for Q4_1, Q5_1; Q8_K for Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS), the NEON twin of <see cref="DotFast"/> with the same shapes and method names:
/// <c>One</c> (one row · one token: decode), <c>Many</c> (one row · up to <see cref="DotFast.MaxTokens"/> tokens, each
/// weight block unpacked once for all of them) and, for the 32-value formats, <c>Block</c> (2 rows · 4 tokens in
/// registers, Arm64DotBlock.cs). Q4_1/Q5_1: Arm64DotMin.cs; Q2_K/Q3_K: Arm64DotK23.cs; IQ4_NL/IQ4_XS: Arm64DotIq4.cs. Each is tested against its <see cref="DotPlain"/> twin at both ARM64 tiers.
/// <para>Two tiers (<see cref="KernelTiers"/>): arm64-dotprod multiplies 16 byte pairs into 4 int32 lanes with one sdot
/// (<see cref="Dp.DotProduct(Vector128{int}, Vector128{sbyte}, Vector128{sbyte})"/>); arm64-neon, every ARMv8 CPU,
/// widens instead: smull + smlal2 multiply 16 pairs into 8 int16 lanes (two products each) and sadalp adds adjacent
/// lanes into the int32 accumulator. Where the weights are small (4- to 6-bit quants), four products fit an int16 lane
/// and one saddlp serves 32 values. .NET 10 exposes nothing beyond sdot that helps here (no i8mm smmla, no fp16
/// arithmetic or conversions; SVE is experimental).</para>
/// </summary>
internal static unsafe partial class Arm64Dot
{
    /// <summary>One row · one token; null where the format has no ARM64 kernel.</summary>
    public static delegate*<byte*, byte*, int, float> SelectOne(GgmlType type) => type switch
    {
        GgmlType.Q8_0 => &Q8_0One,
        GgmlType.Q4_0 => &Q4_0One,
        GgmlType.Q5_0 => &Q5_0One,
        GgmlType.Q4_1 => &Q4_1One,
        GgmlType.Q5_1 => &Q5_1One,
        GgmlType.Q2_K => &Q2_KOne,
        GgmlType.Q3_K => &Q3_KOne,
        GgmlType.Q4_K => &Q4_KOne,
        GgmlType.Q5_K => &Q5_KOne,
        GgmlType.Q6_K => &Q6_KOne,
        GgmlType.IQ4_NL => &IQ4_NLOne,
        GgmlType.IQ4_XS => &IQ4_XSOne,
        _ => null,
    };

    /// <summary>One row · several tokens (w, activations, activation row stride, n, tokens, outputs[tokens]).</summary>
    public static delegate*<byte*, byte*, long, int, int, float*, void> SelectMany(GgmlType type) => type switch
    {
        GgmlType.Q8_0 => &Q8_0Many,
        GgmlType.Q4_0 => &Q4_0Many,
        GgmlType.Q5_0 => &Q5_0Many,
        GgmlType.Q4_1 => &Q4_1Many,
        GgmlType.Q5_1 => &Q5_1Many,
        GgmlType.Q2_K => &Q2_KMany,
        GgmlType.Q3_K => &Q3_KMany,
        GgmlType.Q4_K => &Q4_KMany,
        GgmlType.Q5_K => &Q5_KMany,
        GgmlType.Q6_K => &Q6_KMany,
        GgmlType.IQ4_NL => &IQ4_NLMany,
        GgmlType.IQ4_XS => &IQ4_XSMany,
        _ => null,
    };

    /// <summary>2 rows × 4 tokens (w0, w1, activations, activation row stride, n, y[r·4 + t]); null where there is none.</summary>
    public static delegate*<byte*, byte*, byte*, long, int, float*, void> SelectBlock(GgmlType type) => type switch
    {
        GgmlType.Q8_0 => &Q8_0Block,
        GgmlType.Q4_0 => &Q4_0Block,
        GgmlType.Q5_0 => &Q5_0Block,
        GgmlType.Q4_1 => &Q4_1Block,
        GgmlType.Q5_1 => &Q5_1Block,
        GgmlType.IQ4_NL => &IQ4_NLBlock,
        _ => null,
    };

    /// <summary>acc + Σ x·y over 16 byte pairs, into 4 int32 lanes. Without sdot: pairs (i, i+8) summed in int16,
    /// which holds when |x·y| ≤ 128·127 (activations are at most 127 in magnitude).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> Dot16(Vector128<int> acc, Vector128<sbyte> x, Vector128<sbyte> y)
    {
        if (KernelTiers.DotProd) return Dp.DotProduct(acc, x, y);
        var p = AdvSimd.MultiplyWideningLowerAndAdd(AdvSimd.MultiplyWideningUpper(x, y), x.GetLower(), y.GetLower());
        return AdvSimd.AddPairwiseWideningAndAdd(acc, p);
    }

    /// <summary>Σ x·y over 32 byte pairs (x0·y0 and x1·y1) into 4 int32 lanes, for any int8 weights.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> Dot32(Vector128<sbyte> x0, Vector128<sbyte> x1, Vector128<sbyte> y0, Vector128<sbyte> y1)
    {
        if (KernelTiers.DotProd) return Dp.DotProduct(Dp.DotProduct(Vector128<int>.Zero, x0, y0), x1, y1);
        var p = AdvSimd.MultiplyWideningLowerAndAdd(AdvSimd.MultiplyWideningUpper(x0, y0), x0.GetLower(), y0.GetLower());
        var q = AdvSimd.MultiplyWideningLowerAndAdd(AdvSimd.MultiplyWideningUpper(x1, y1), x1.GetLower(), y1.GetLower());
        return AdvSimd.AddPairwiseWideningAndAdd(AdvSimd.AddPairwiseWidening(p), q);
    }

    /// <summary><see cref="Dot32"/> for weights of at most 64 in magnitude (4-, 5- and 6-bit quants): without sdot,
    /// four products share an int16 lane (4·64·127 &lt; 2^15), so one saddlp widens 32 values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> Dot32Small(Vector128<sbyte> x0, Vector128<sbyte> x1, Vector128<sbyte> y0, Vector128<sbyte> y1)
    {
        if (KernelTiers.DotProd) return Dp.DotProduct(Dp.DotProduct(Vector128<int>.Zero, x0, y0), x1, y1);
        return AdvSimd.AddPairwiseWidening(Products32(x0, x1, y0, y1));
    }

    /// <summary>The 32 products x·y summed four to an int16 lane (no sdot): |x| ≤ 64 keeps each lane below 2^15.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<short> Products32(Vector128<sbyte> x0, Vector128<sbyte> x1, Vector128<sbyte> y0, Vector128<sbyte> y1)
    {
        // Upper halves first: the lower halves' reads are then the vectors' last uses, which spares the JIT a register
        // copy for each GetLower.
        var p = AdvSimd.MultiplyWideningUpper(x0, y0);
        p = AdvSimd.MultiplyWideningLowerAndAdd(p, x0.GetLower(), y0.GetLower());
        p = AdvSimd.MultiplyWideningUpperAndAdd(p, x1, y1);
        return AdvSimd.MultiplyWideningLowerAndAdd(p, x1.GetLower(), y1.GetLower());
    }

    /// <summary>acc + p·s, the fp32 scale s applied to the four integer lanes p.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Scaled(Vector128<float> acc, Vector128<int> p, float s) =>
        AdvSimd.Arm64.FusedMultiplyAddByScalar(acc, AdvSimd.ConvertToSingle(p), Vector64.CreateScalarUnsafe(s));

    /// <summary>The 32 values of a Q4_0-style nibble block: low nibbles are values 0..15, high nibbles 16..31.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Nibbles(byte* qs16, out Vector128<byte> lo, out Vector128<byte> hi)
    {
        var q = AdvSimd.LoadVector128(qs16);
        lo = AdvSimd.And(q, Vector128.Create((byte)0x0F));
        hi = AdvSimd.ShiftRightLogical(q, 4);
    }

    /// <summary>The fifth bits of a Q5_0/Q5_1 block as byte masks: lane j 0xFF where bit j of <paramref name="qh"/> is set
    /// (values 0..15 in <paramref name="lo"/>, 16..31 in <paramref name="hi"/>). The 4 bytes of qh are spread so that
    /// lane j holds byte j/8 (tbl), then tested against bit j % 8 (cmtst).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Q5Masks(uint qh, out Vector128<byte> lo, out Vector128<byte> hi)
    {
        var bytes = Vector128.CreateScalarUnsafe(qh).AsByte();
        var spreadLo = Vector128.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
        var spreadHi = Vector128.Create((byte)2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
        var bit = Vector128.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
        lo = AdvSimd.CompareTest(AdvSimd.Arm64.VectorTableLookup(bytes, spreadLo), bit);
        hi = AdvSimd.CompareTest(AdvSimd.Arm64.VectorTableLookup(bytes, spreadHi), bit);
    }

    /// <summary>Q5_0's fifth bits as the amount to subtract from each nibble: 0 where bit j of <paramref name="qh"/> is
    /// set, 16 where it is clear, so that nibble − this = (nibble | bit·16) − 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Q5Offsets(uint qh, out Vector128<sbyte> lo, out Vector128<sbyte> hi)
    {
        Q5Masks(qh, out var mlo, out var mhi);
        var sixteen = Vector128.Create((byte)16);
        lo = AdvSimd.BitwiseClear(sixteen, mlo).AsSByte();
        hi = AdvSimd.BitwiseClear(sixteen, mhi).AsSByte();
    }
}
