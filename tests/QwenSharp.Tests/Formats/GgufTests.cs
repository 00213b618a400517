using QwenSharp.Formats;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Formats;

public unsafe class GgufTests
{
    private static GgufFile FromBytes(byte[] bytes, TempDir dir, string name = "t.gguf")
    {
        string path = dir.File(name);
        File.WriteAllBytes(path, bytes);
        return GgufFile.Open(path);
    }

    private static TensorSpec RandomBytes(string name, GgmlType type, long[] shape, int seed, out byte[] data)
    {
        var spec = new TensorSpec(name, type, shape, _ => { });
        var bytes = new byte[spec.ByteLength];
        new Random(seed).NextBytes(bytes);
        data = bytes;
        return spec with { WriteData = s => s.Write(bytes) };
    }

    [Fact]
    public void EveryMetadataTypeRoundTrips()
    {
        using var dir = Fixtures.TempDir();
        var w = new GgufWriter()
            .Set("u8", (byte)200).Set("i8", (sbyte)-100).Set("u16", (ushort)60000).Set("i16", (short)-30000)
            .Set("u32", 4000000000u).Set("i32", -2000000000).Set("f32", 1.5e-6f).Set("bool", true)
            .Set("str", "héllo ✓ 世界").Set("empty", "")
            .Set("u64", ulong.MaxValue).Set("i64", long.MinValue).Set("f64", Math.PI)
            .Set("arr.str", GgufArray.Of(["a", "", "ĠĊ"])).Set("arr.i32", GgufArray.Of([1, -2, 3]))
            .Set("arr.f32", GgufArray.Of([0.5f, -1f])).Set("arr.bool", GgufArray.Of([true, false]))
            .Set("arr.u8", GgufArray.Of(new byte[] { 1, 2 })).Set("arr.u64", GgufArray.Of([ulong.MaxValue]))
            .Set("arr.f64", GgufArray.Of([2.5])).Set("arr.empty", GgufArray.Of(Array.Empty<int>()))
            .Set("arr.nested", GgufArray.Of([GgufArray.Of([1, 2]), GgufArray.Of(["x"])]));
        w.Write(dir.File("m.gguf"));

        using var f = GgufFile.Open(dir.File("m.gguf"));
        var m = f.Metadata;
        Assert.Equal(3u, f.Version);
        Assert.Equal(w.Keys, m.Keys);
        Assert.Equal((byte)200, m.GetValue("u8"));
        Assert.Equal((sbyte)-100, m.GetValue("i8"));
        Assert.Equal((ushort)60000, m.GetValue("u16"));
        Assert.Equal((short)-30000, m.GetValue("i16"));
        Assert.Equal(4000000000u, m.GetUInt32("u32"));
        Assert.Equal(-2000000000, m.GetInt32("i32"));
        Assert.Equal(1.5e-6f, m.GetFloat32("f32"));
        Assert.True(m.GetBool("bool"));
        Assert.Equal("héllo ✓ 世界", m.GetString("str"));
        Assert.Equal("", m.GetString("empty"));
        Assert.Equal(ulong.MaxValue, m.GetUInt64("u64"));
        Assert.Equal(long.MinValue, m.GetInt64("i64"));
        Assert.Equal(Math.PI, m.GetFloat64("f64"));
        Assert.Equal(["a", "", "ĠĊ"], m.GetStringArray("arr.str"));
        Assert.Equal([1, -2, 3], m.GetInt32Array("arr.i32"));
        Assert.Equal([0.5f, -1f], m.GetFloat32Array("arr.f32"));
        Assert.Equal([true, false], (bool[])m.GetArray("arr.bool").Items);
        Assert.Equal([1, 2], m.GetInt32Array("arr.u8"));
        Assert.Equal([ulong.MaxValue], (ulong[])m.GetArray("arr.u64").Items);
        Assert.Equal([2.5], (double[])m.GetArray("arr.f64").Items);
        Assert.Empty(m.GetInt32Array("arr.empty"));
        var nested = (GgufArray[])m.GetArray("arr.nested").Items;
        Assert.Equal([1, 2], (int[])nested[0].Items);
        Assert.Equal(["x"], (string[])nested[1].Items);
        // The type ids on disk survive, not just the values.
        var expectedTypes = new (string Key, GgufValueType Type)[]
        {
            ("u8", GgufValueType.UInt8), ("i8", GgufValueType.Int8), ("u16", GgufValueType.UInt16), ("i16", GgufValueType.Int16),
            ("u32", GgufValueType.UInt32), ("i32", GgufValueType.Int32), ("f32", GgufValueType.Float32), ("bool", GgufValueType.Bool),
            ("str", GgufValueType.String), ("u64", GgufValueType.UInt64), ("i64", GgufValueType.Int64), ("f64", GgufValueType.Float64),
            ("arr.str", GgufValueType.Array),
        };
        foreach (var (key, type) in expectedTypes) Assert.Equal(type, m.GetValueType(key));
        Assert.Equal(GgufValueType.Int32, m.GetArray("arr.i32").ElementType);
        Assert.Equal(GgufValueType.Bool, m.GetArray("arr.bool").ElementType);
        Assert.Equal(GgufValueType.Array, m.GetArray("arr.nested").ElementType);
    }

    [Fact]
    public void IntegersWidenAndNarrowWhereTheValueFitsAndOtherMismatchesNameTheKey()
    {
        using var dir = Fixtures.TempDir();
        new GgufWriter().Set("ctx64", 32768UL).Set("ctx8", (byte)7).Set("big", 5000000000UL).Set("neg", -1)
            .Set("s", "text").Set("f", 2.5f).Write(dir.File("m.gguf"));
        using var f = GgufFile.Open(dir.File("m.gguf"));
        var m = f.Metadata;
        Assert.Equal(32768u, m.GetUInt32("ctx64"));
        Assert.Equal(7, m.GetInt32("ctx8"));
        Assert.Equal(5000000000L, m.GetInt64("big"));
        Assert.Equal(2.5, m.GetFloat64("f"));
        Assert.Equal(7f, m.GetFloat32("ctx8"));
        Assert.False(m.TryGetUInt32("absent", out _));
        Assert.Contains("does not fit a u32", Assert.Throws<FormatException>(() => m.GetUInt32("big")).Message);
        Assert.Contains("does not fit a u32", Assert.Throws<FormatException>(() => m.GetUInt32("neg")).Message);
        var e = Assert.Throws<FormatException>(() => m.GetUInt32("s"));
        Assert.Contains("metadata key s", e.Message);
        Assert.Contains(dir.File("m.gguf"), e.Message);
        Assert.Contains("not a string", Assert.Throws<FormatException>(() => m.GetString("f")).Message);
        Assert.Contains("no metadata key absent", Assert.Throws<FormatException>(() => m.GetString("absent")).Message);
        Assert.Throws<FormatException>(() => m.TryGetString("f", out _));
    }

    [Fact]
    public void TensorsOfSeveralTypesRoundTripWithShapesOutermostFirst()
    {
        using var dir = Fixtures.TempDir();
        var cases = new (string Name, GgmlType Type, long[] Shape)[]
        {
            ("f32", GgmlType.F32, [3, 5]), ("f16", GgmlType.F16, [2, 4]), ("bf16", GgmlType.BF16, [7]),
            ("q8_0", GgmlType.Q8_0, [2, 64]), ("q4_0", GgmlType.Q4_0, [3, 32]), ("q4_1", GgmlType.Q4_1, [1, 32]),
            ("q5_0", GgmlType.Q5_0, [1, 64]), ("q5_1", GgmlType.Q5_1, [2, 32]), ("q2_k", GgmlType.Q2_K, [1, 256]),
            ("q3_k", GgmlType.Q3_K, [1, 256]), ("q4_k", GgmlType.Q4_K, [2, 256]), ("q5_k", GgmlType.Q5_K, [1, 512]),
            ("q6_k", GgmlType.Q6_K, [3, 256]), ("q8_k", GgmlType.Q8_K, [1, 256]), ("cube", GgmlType.F32, [2, 3, 4]),
        };
        var w = new GgufWriter().SetString("general.architecture", "test");
        var data = new Dictionary<string, byte[]>();
        int seed = 0;
        foreach (var (name, type, shape) in cases)
        {
            w.AddTensor(RandomBytes(name, type, shape, seed++, out var bytes));
            data[name] = bytes;
        }
        w.Write(dir.File("t.gguf"));

        using var f = GgufFile.Open(dir.File("t.gguf"));
        Assert.Equal(32u, f.Alignment);
        Assert.Equal(0, f.DataOffset % 32);
        Assert.Equal(cases.Select(c => c.Name), f.TensorNames);
        byte* first = f.Get("f32").Pointer;
        foreach (var (name, type, shape) in cases)
        {
            var t = f.Get(name);
            Assert.Equal(type, t.Type);
            Assert.Equal(shape, t.Shape);
            Assert.Equal(data[name].Length, t.ByteLength);
            Assert.Equal(data[name], new ReadOnlySpan<byte>(t.Pointer, (int)t.ByteLength).ToArray());
            Assert.Equal(0, (t.Pointer - first) % 32);
        }
        // Row geometry comes from ggml's block sizes: a Q4_K row of 256 values is one 144-byte block.
        Assert.Equal(144, f.Get("q4_k").RowBytes);
    }

    [Fact]
    public void WriterLaysOutBytesAsTheGgufSpecificationSays()
    {
        using var dir = Fixtures.TempDir();
        new GgufWriter().SetUInt32("k", 7).AddTensor("w", GgmlType.F32, [2, 3], s => s.Write(new byte[24])).Write(dir.File("w.gguf"));
        // Independent description: header, one u32 key, tensor info with ne innermost first, zero padding to 32, data.
        var expected = new RawGguf().Header(3, 1, 1).KeyU32("k", 7).Tensor("w", [3, 2], 0, 0).AlignTo(32).Zeros(24).AlignTo(32).ToArray();
        Assert.Equal(expected, File.ReadAllBytes(dir.File("w.gguf")));
    }

    [Fact]
    public void VersionTwoAndCustomAlignmentAreRead()
    {
        using var dir = Fixtures.TempDir();
        var bytes = new RawGguf().Header(2, 2, 1).KeyU32("general.alignment", 64)
            .Tensor("a", [4], 0, 0).Tensor("b", [16], 0, 64).AlignTo(64).Zeros(64 + 64).ToArray();
        using var f = FromBytes(bytes, dir);
        Assert.Equal(2u, f.Version);
        Assert.Equal(64u, f.Alignment);
        Assert.Equal(0, f.DataOffset % 64);
        Assert.Equal(64, f.Get("b").Pointer - f.Get("a").Pointer);
    }

    public static TheoryData<string, byte[], string> Defects()
    {
        RawGguf One(ulong keys = 0) => new RawGguf().Header(3, 1, keys);
        return new()
        {
            { "magic", "GGUX"u8.ToArray().Concat(new byte[20]).ToArray(), "not a GGUF file" },
            { "version", new RawGguf().Header(1, 0, 0).ToArray(), "version 1" },
            { "big-endian", new RawGguf().Header(0x03000000, 0, 0).ToArray(), "big-endian" },
            { "type id", One().Tensor("blk.0.attn_q.weight", [32], 99, 0).AlignTo(32).Zeros(64).ToArray(), "tensor blk.0.attn_q.weight has type id 99" },
            // ggml types without a reader here (the IQ1-IQ3 grids, the ternary TQ types, MXFP4) are named.
            { "iq2_xxs", One().Tensor("blk.0.attn_q.weight", [256], 16, 0).AlignTo(32).Zeros(128).ToArray(), "tensor blk.0.attn_q.weight has type IQ2_XXS (type id 16), which this runtime does not read" },
            { "iq3_s", One().Tensor("blk.1.ffn_up.weight", [256], 21, 0).AlignTo(32).Zeros(128).ToArray(), "tensor blk.1.ffn_up.weight has type IQ3_S" },
            { "iq1_m", One().Tensor("output.weight", [256], 29, 0).AlignTo(32).Zeros(128).ToArray(), "tensor output.weight has type IQ1_M" },
            { "tq1_0", One().Tensor("token_embd.weight", [256], 34, 0).AlignTo(32).Zeros(128).ToArray(), "tensor token_embd.weight has type TQ1_0" },
            { "tq2_0", One().Tensor("w", [256], 35, 0).AlignTo(32).Zeros(128).ToArray(), "tensor w has type TQ2_0" },
            { "mxfp4", One().Tensor("w", [32], 39, 0).AlignTo(32).Zeros(64).ToArray(), "tensor w has type MXFP4 (type id 39)" },
            { "unaligned", One().Tensor("w", [4], 0, 8).AlignTo(32).Zeros(64).ToArray(), "tensor w starts at data offset 8" },
            { "past end", One().Tensor("w", [64], 0, 0).AlignTo(32).Zeros(100).ToArray(), "tensor w (256 bytes at data offset 0) runs past the end" },
            { "overlap", new RawGguf().Header(3, 2, 0).Tensor("a", [16], 0, 0).Tensor("b", [16], 0, 32).AlignTo(32).Zeros(128).ToArray(), "tensor b (bytes 32..96) overlaps tensor a" },
            { "dims", One().Tensor("w", [1, 1, 1, 1, 1], 0, 0).ToArray(), "tensor w has 5 dimensions" },
            { "block", One().Tensor("w", [33], 8, 0).AlignTo(32).Zeros(64).ToArray(), "tensor w has rows of 33 values, not a whole number of Q8_0 blocks" },
            { "huge dims", One().Tensor("w", [1UL << 40, 1UL << 40], 0, 0).AlignTo(32).Zeros(64).ToArray(), "tensor w of F32" },
            { "dup tensor", new RawGguf().Header(3, 2, 0).Tensor("w", [4], 0, 0).Tensor("w", [4], 0, 32).AlignTo(32).Zeros(64).ToArray(), "tensor w twice" },
            { "dup key", new RawGguf().Header(3, 0, 2).KeyU32("k", 1).KeyU32("k", 2).ToArray(), "metadata key k twice" },
            { "string length", new RawGguf().Header(3, 0, 1).Str("name").U32(8).U64(1UL << 62).ToArray(), "metadata key name declares a string of 4611686018427387904 bytes" },
            { "array count", new RawGguf().Header(3, 0, 1).Str("tokens").U32(9).U32(8).U64(1UL << 40).ToArray(), "metadata key tokens declares 1099511627776 items" },
            { "value type", new RawGguf().Header(3, 0, 1).Str("k").U32(13).U32(0).ToArray(), "metadata key k has value type 13" },
            { "bool", new RawGguf().Header(3, 0, 1).Str("flag").U32(7).U8(2).ToArray(), "metadata key flag holds bool byte 2" },
            { "alignment", new RawGguf().Header(3, 0, 1).KeyU32("general.alignment", 48).ToArray(), "general.alignment is 48" },
            { "key count", new RawGguf().Header(3, 0, ulong.MaxValue).ToArray(), "the metadata count declares" },
            { "tensor count", new RawGguf().Header(3, 1UL << 50, 0).ToArray(), "the tensor count declares" },
            { "truncated key", new RawGguf().Header(3, 0, 1).Str("general.name").U32(8).U64(10).U8(65).ToArray(), "metadata key general.name" },
            { "truncated info", new RawGguf().Header(3, 1, 0).Str("output.weight").U32(2).U64(4).ToArray(), "tensor output.weight" },
        };
    }

    [Theory]
    [MemberData(nameof(Defects))]
    public void DefectsAreFormatExceptionsNamingTheFileAndTheKeyOrTensor(string label, byte[] bytes, string expected)
    {
        using var dir = Fixtures.TempDir();
        var e = Assert.Throws<FormatException>(() => FromBytes(bytes, dir, label.Replace(' ', '-') + ".gguf").Dispose());
        Assert.Contains(expected, e.Message);
        Assert.Contains(label.Replace(' ', '-') + ".gguf", e.Message);
    }

    [Fact]
    public void WriterRefusesWhatLlamaCppCouldNotLoad()
    {
        var w = new GgufWriter();
        Assert.Throws<ArgumentException>(() => w.AddTensor(new string('x', 64), GgmlType.F32, [1], _ => { }));
        Assert.Throws<ArgumentException>(() => w.AddTensor("q", GgmlType.Q4_0, [2, 31], _ => { }));
        Assert.Throws<ArgumentException>(() => w.AddTensor("d", GgmlType.F32, [1, 1, 1, 1, 1], _ => { }));
        w.AddTensor("ok", GgmlType.F32, [1], _ => { });
        Assert.Throws<ArgumentException>(() => w.AddTensor("ok", GgmlType.F32, [1], _ => { }));
        Assert.Throws<ArgumentException>(() => w.Set("general.alignment", 48u));
        Assert.Throws<ArgumentException>(() => w.Set("x", new object()));
        using var dir = Fixtures.TempDir();
        var e = Assert.Throws<InvalidOperationException>(() => w.Write(dir.File("x.gguf")));
        Assert.Contains("tensor ok", e.Message);
    }
}
