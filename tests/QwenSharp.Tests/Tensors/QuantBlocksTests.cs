using System.Runtime.CompilerServices;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Tensors;

public class QuantBlocksTests
{
    [Fact]
    public void EveryBlockStructHasGgmlsSize()
    {
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q4_0), Unsafe.SizeOf<BlockQ4_0>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q4_1), Unsafe.SizeOf<BlockQ4_1>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q5_0), Unsafe.SizeOf<BlockQ5_0>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q5_1), Unsafe.SizeOf<BlockQ5_1>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q8_0), Unsafe.SizeOf<BlockQ8_0>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q8_1), Unsafe.SizeOf<BlockQ8_1>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q2_K), Unsafe.SizeOf<BlockQ2_K>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q3_K), Unsafe.SizeOf<BlockQ3_K>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q4_K), Unsafe.SizeOf<BlockQ4_K>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q5_K), Unsafe.SizeOf<BlockQ5_K>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q6_K), Unsafe.SizeOf<BlockQ6_K>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q8_K), Unsafe.SizeOf<BlockQ8_K>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.IQ4_NL), Unsafe.SizeOf<BlockIQ4_NL>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.IQ4_XS), Unsafe.SizeOf<BlockIQ4_XS>());
    }

    [Fact]
    public unsafe void FieldsLieAtGgmlsOffsets()
    {
        // ggml-common.h: block_q6_K { ql[128]; qh[64]; scales[16]; d } and block_q8_K { float d; qs[256]; bsums[16] }.
        var q6 = new BlockQ6_K();
        Assert.Equal(128 + 64 + 16, (int)((byte*)&q6.D - (byte*)&q6));
        var q8k = new BlockQ8_K();
        Assert.Equal(4 + 256, (int)((byte*)&q8k.BSums - (byte*)&q8k));
        // block_iq4_xs { d; scales_h; scales_l[4]; qs[128] }.
        var xs = new BlockIQ4_XS();
        Assert.Equal(2 + 2 + 4, (int)((byte*)&xs.Qs - (byte*)&xs));
        var q5 = new BlockQ5_K();
        Assert.Equal(2 + 2 + 12, (int)((byte*)&q5.Qh - (byte*)&q5));
    }
}
