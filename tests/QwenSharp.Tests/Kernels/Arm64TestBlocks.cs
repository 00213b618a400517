using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Kernels;

/// <summary>
/// Raw quantized rows for the kernel twin tests: every block random bytes (any bytes are a valid block of these
/// formats once its fp16 scales are finite), and every other block's quants forced to an end of the range
/// (all bits clear, all bits set, or Q8_0's −128), so that the extremes meet activations of ±127.
/// </summary>
internal static unsafe class Arm64TestBlocks
{
    /// <summary>A weight row of <paramref name="type"/> filling <paramref name="row"/>.</summary>
    public static void Weights(GgmlType type, Span<byte> row, Random rng)
    {
        rng.NextBytes(row);
        int size = GgmlTypeInfo.BlockBytes(type);
        for (int b = 0; b * size < row.Length; b++)
        {
            var block = row.Slice(b * size, size);
            // Blocks 0, 1, 2 (mod 4): all bits clear, all set, all set again (Q8_0: −128, 127, −128); block 3 stays random.
            bool extreme = b % 4 != 3;
            byte fill = type == GgmlType.Q8_0 ? (b % 4 == 1 ? (byte)0x7F : (byte)0x80) : (b % 4 == 0 ? (byte)0x00 : (byte)0xFF);
            switch (type)
            {
                case GgmlType.Q8_0:
                    if (extreme) block[2..].Fill(fill);
                    SetHalf(block, 0, rng);
                    break;
                case GgmlType.Q4_0:
                    if (extreme) block[2..].Fill(fill);
                    SetHalf(block, 0, rng);
                    break;
                case GgmlType.Q5_0:
                    if (extreme) block[2..].Fill(fill);
                    SetHalf(block, 0, rng);
                    break;
                case GgmlType.Q4_1:
                case GgmlType.Q5_1:
                    if (extreme) block[4..].Fill(fill); // quants 0 or 15 (31)
                    SetHalf(block, 0, rng);
                    SetHalf(block, 2, rng);
                    break;
                case GgmlType.IQ4_NL:
                    if (extreme) block[2..].Fill(fill); // grid levels −127 or 113
                    SetHalf(block, 0, rng);
                    break;
                case GgmlType.IQ4_XS:
                    if (extreme) block[2..].Fill(fill); // scales −32 or 31, grid levels −127 or 113
                    SetHalf(block, 0, rng);
                    break;
                case GgmlType.Q2_K:
                    if (extreme) block[..80].Fill(fill); // scales and mins 0 or 15, quants 0 or 3
                    SetHalf(block, 80, rng);
                    SetHalf(block, 82, rng);
                    break;
                case GgmlType.Q3_K:
                    if (extreme) block[..108].Fill(fill); // scales −32 or 31, quants −4 or 3
                    SetHalf(block, 108, rng);
                    break;
                case GgmlType.Q4_K:
                case GgmlType.Q5_K:
                    if (extreme) block[4..].Fill(fill); // scales and mins 0 or 63, quants 0 or 15 (31)
                    SetHalf(block, 0, rng);
                    SetHalf(block, 2, rng);
                    break;
                case GgmlType.Q6_K:
                    if (extreme)
                    {
                        block[..192].Fill(fill);                                     // quants 0 or 63
                        block[192..208].Fill(b % 2 == 0 ? (byte)0x80 : (byte)0x7F);  // scales −128 or 127
                    }
                    SetHalf(block, 208, rng);
                    break;
                default:
                    throw new ArgumentException($"No test blocks for {type}.");
            }
        }
    }

    /// <summary>An activation row of <paramref name="type"/> (Q8_0, Q8_1 or Q8_K): quants all 127, all −127, alternating,
    /// or random in [−127, 127]; Q8_1's s and Q8_K's bsums consistent with the quants.</summary>
    public static void Activations(GgmlType type, Span<byte> row, Random rng)
    {
        int size = GgmlTypeInfo.BlockBytes(type), values = GgmlTypeInfo.BlockSize(type);
        for (int b = 0; b * size < row.Length; b++)
        {
            var block = row.Slice(b * size, size);
            int offset = type == GgmlType.Q8_0 ? 2 : 4;
            int total = 0;
            for (int i = 0; i < values; i++)
            {
                int q = (b % 4) switch { 0 => 127, 1 => -127, 2 => i % 2 == 0 ? 127 : -127, _ => rng.Next(-127, 128) };
                block[offset + i] = (byte)(sbyte)q;
                total += q;
            }
            if (type == GgmlType.Q8_0 || type == GgmlType.Q8_1)
            {
                SetHalf(block, 0, rng);
                if (type == GgmlType.Q8_1)
                {
                    float d = (float)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(block));
                    BitConverter.TryWriteBytes(block[2..], BitConverter.HalfToUInt16Bits((Half)(d * total)));
                }
                continue;
            }
            BitConverter.TryWriteBytes(block, RandomScale(rng));
            for (int g = 0; g < 16; g++)
            {
                int sum = 0;
                for (int i = 0; i < 16; i++) sum += (sbyte)block[4 + 16 * g + i];
                BitConverter.TryWriteBytes(block[(4 + 256 + 2 * g)..], (short)sum);
            }
        }
    }

    /// <summary>Σ over the row of the magnitudes the kernels add up: |w_i·a_i| for the 32-value formats (one integer sum
    /// per block) and IQ4_XS; (|d·q_i| + |m|)·|a_i| for Q4_1/Q5_1 (the d·q and m parts are summed apart); for the
    /// K-quants the scaled quant part and the offset part separately (the kernels sum them apart and subtract, so
    /// rounding is relative to each).</summary>
    public static double Magnitude(GgmlType type, byte* w, byte* a, int n)
    {
        double sum = 0;
        if (type is GgmlType.Q4_1 or GgmlType.Q5_1)
        {
            var wf = new float[n];
            Dequantize.Row(type, w, wf);
            int size = GgmlTypeInfo.BlockBytes(type);
            for (int i = 0; i < n; i++)
            {
                byte* wb = w + i / 32 * size;
                var ab = (BlockQ8_1*)a + i / 32;
                float m = FloatFormats.HalfToSingle(*(ushort*)(wb + 2));
                float da = FloatFormats.HalfToSingle(ab->D);
                sum += (Math.Abs((double)wf[i] - m) + Math.Abs(m)) * Math.Abs(da * ((sbyte*)&ab->Qs)[i % 32]);
            }
            return sum;
        }
        if (type == GgmlType.IQ4_XS)
        {
            var wf = new float[n];
            Dequantize.Row(type, w, wf);
            for (int i = 0; i < n; i++)
            {
                var y = (BlockQ8_K*)a + i / 256;
                sum += Math.Abs((double)wf[i] * y->D * ((sbyte*)&y->Qs)[i % 256]);
            }
            return sum;
        }
        if (GgmlTypeInfo.BlockSize(type) == 32)
        {
            var wf = new float[n];
            var af = new float[n];
            Dequantize.Row(type, w, wf);
            Dequantize.Row(GgmlType.Q8_0, a, af);
            for (int i = 0; i < n; i++) sum += Math.Abs((double)wf[i] * af[i]);
            return sum;
        }
        sbyte* q = stackalloc sbyte[256];
        int* scales = stackalloc int[16];
        int* mins = stackalloc int[16];
        for (int b = 0; b < n / 256; b++)
        {
            KQuantUnpack.Block(type, w + b * GgmlTypeInfo.BlockBytes(type), q, scales, mins, out float d, out float dmin);
            var y = (BlockQ8_K*)a + b;
            sbyte* q8 = (sbyte*)&y->Qs;
            for (int i = 0; i < 256; i++)
                sum += Math.Abs((double)y->D * q8[i]) * (Math.Abs(d * scales[i / 16]) * (Math.Abs(q[i]) + 32) + Math.Abs(dmin * mins[i / 16]));
        }
        return sum;
    }

    private static float RandomScale(Random rng) => (float)((rng.NextDouble() * 1.5 + 0.5) * (rng.Next(2) == 0 ? -1 : 1));

    private static void SetHalf(Span<byte> block, int offset, Random rng) =>
        BitConverter.TryWriteBytes(block[offset..], BitConverter.HalfToUInt16Bits((Half)RandomScale(rng)));
}
