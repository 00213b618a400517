using QwenSharp.Tensors;
using static QwenSharp.Kernels.FloatFormats;

namespace QwenSharp.Kernels;

// The 4-bit non-linear formats, as ggml's dequantize_row_iq4_nl and dequantize_row_iq4_xs.
public static unsafe partial class Dequantize
{
    internal static void IQ4_NL(BlockIQ4_NL* b, float* y)
    {
        var grid = Iq4NlGrid.Values;
        float d = HalfToSingle(b->D);
        byte* qs = (byte*)&b->Qs;
        for (int j = 0; j < 16; j++)
        {
            y[j] = d * grid[qs[j] & 0x0F];
            y[j + 16] = d * grid[qs[j] >> 4];
        }
    }

    internal static void IQ4_XS(BlockIQ4_XS* b, float* y)
    {
        var grid = Iq4NlGrid.Values;
        float d = HalfToSingle(b->D);
        byte* qs = (byte*)&b->Qs;
        for (int ib = 0; ib < 8; ib++)
        {
            float dl = d * (Iq4XsScale(b, ib) - 32);
            for (int j = 0; j < 16; j++)
            {
                y[j] = dl * grid[qs[j] & 0x0F];
                y[j + 16] = dl * grid[qs[j] >> 4];
            }
            y += 32;
            qs += 16;
        }
    }

    /// <summary>Group <paramref name="ib"/>'s 6-bit scale, still biased by 32.</summary>
    internal static int Iq4XsScale(BlockIQ4_XS* b, int ib)
    {
        byte* scalesL = (byte*)&b->ScalesL;
        return ((scalesL[ib / 2] >> (4 * (ib % 2))) & 0x0F) | (((b->ScalesH >> (2 * ib)) & 3) << 4);
    }
}
