using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace QwenSharp.Tensors;

// ggml's quantized block layouts (ggml-common.h), byte for byte. Halves are stored as their raw 16-bit patterns.
// Every struct's size is asserted against GgmlTypeInfo.BlockBytes by a test, as ggml static_asserts its own.

/// <summary>Q4_0: value = (nibble - 8) * d. Low nibbles hold values 0..15 of the block, high nibbles 16..31.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ4_0
{
    public ushort D;
    public Bytes16 Qs;
}

/// <summary>Q4_1: value = nibble * d + m.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ4_1
{
    public ushort D;
    public ushort M;
    public Bytes16 Qs;
}

/// <summary>Q5_0: value = ((nibble | high bit &lt;&lt; 4) - 16) * d; bit j of qh is the fifth bit of value j.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ5_0
{
    public ushort D;
    public uint Qh;
    public Bytes16 Qs;
}

/// <summary>Q5_1: value = (nibble | high bit &lt;&lt; 4) * d + m.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ5_1
{
    public ushort D;
    public ushort M;
    public uint Qh;
    public Bytes16 Qs;
}

/// <summary>Q8_0: value = q * d.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ8_0
{
    public ushort D;
    public Bytes32 Qs;
}

/// <summary>Q8_1: value = q * d; s = d * sum(q), used by the Q4_1/Q5_1 dot products for the offset term.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ8_1
{
    public ushort D;
    public ushort S;
    public Bytes32 Qs;
}

/// <summary>Q2_K: 16 groups of 16; scales byte = scale (low nibble) | min (high nibble); 2-bit quants.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ2_K
{
    public Bytes16 Scales;
    public Bytes64 Qs;
    public ushort D;
    public ushort DMin;
}

/// <summary>Q3_K: 2 low bits in qs, the third (inverted) in hmask, 16 six-bit scales packed into 12 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ3_K
{
    public Bytes32 HMask;
    public Bytes64 Qs;
    public Bytes12 Scales;
    public ushort D;
}

/// <summary>Q4_K: 8 groups of 32, six-bit scales and mins packed into 12 bytes; value = d*sc*q - dmin*m.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ4_K
{
    public ushort D;
    public ushort DMin;
    public Bytes12 Scales;
    public Bytes128 Qs;
}

/// <summary>Q5_K: Q4_K plus a fifth bit per value in qh.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ5_K
{
    public ushort D;
    public ushort DMin;
    public Bytes12 Scales;
    public Bytes32 Qh;
    public Bytes128 Qs;
}

/// <summary>Q6_K: 4 low bits in ql, 2 high bits in qh, 16 int8 scales; value = d * scale * (q - 32).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ6_K
{
    public Bytes128 Ql;
    public Bytes64 Qh;
    public Bytes16 Scales;
    public ushort D;
}

/// <summary>Q8_K: the activation format of the K-quant dot products; d is a float, bsums are sums of 16 quants.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ8_K
{
    public float D;
    public Bytes256 Qs;
    public Shorts16 BSums;
}

/// <summary>IQ4_NL: value = d * kvalues_iq4nl[nibble], a fixed non-linear grid of 16 int8 levels; nibbles laid out
/// as Q4_0's (low nibbles values 0..15, high 16..31).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockIQ4_NL
{
    public ushort D;
    public Bytes16 Qs;
}

/// <summary>IQ4_XS: 8 groups of 32 on IQ4_NL's grid, each with a 6-bit scale (low 4 bits in scales_l, two per byte;
/// high 2 bits in scales_h, two per group); value = d * (scale - 32) * kvalues_iq4nl[nibble].</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockIQ4_XS
{
    public ushort D;
    public ushort ScalesH;
    public Bytes4 ScalesL;
    public Bytes128 Qs;
}

[InlineArray(4)] public struct Bytes4 { private byte _e; }
[InlineArray(12)] public struct Bytes12 { private byte _e; }
[InlineArray(16)] public struct Bytes16 { private byte _e; }
[InlineArray(32)] public struct Bytes32 { private byte _e; }
[InlineArray(64)] public struct Bytes64 { private byte _e; }
[InlineArray(128)] public struct Bytes128 { private byte _e; }
[InlineArray(256)] public struct Bytes256 { private byte _e; }
[InlineArray(16)] public struct Shorts16 { private short _e; }
