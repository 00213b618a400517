using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using QwenSharp.Formats;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Formats;

public class SafetensorsTests
{
    private static TensorSpec Floats(string name, long[] shape, int seed)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b);
        var values = new float[n];
        for (int i = 0; i < n; i++) values[i] = seed + i * 0.25f;
        return new TensorSpec(name, GgmlType.F32, shape, s => s.Write(MemoryMarshal.AsBytes(values.AsSpan())));
    }

    private static TensorSpec Halves(string name, GgmlType type, long[] shape, int seed)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b);
        var bytes = new byte[n * 2];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)(seed * 31 + i);
        return new TensorSpec(name, type, shape, s => s.Write(bytes));
    }

    private static unsafe float[] ReadFloats(TensorView view) => new ReadOnlySpan<float>(view.Pointer, (int)view.ElementCount).ToArray();

    [Fact]
    public void SingleFileRoundTripsNamesShapesTypesAndBytes()
    {
        using var dir = Fixtures.TempDir();
        var specs = new[]
        {
            Floats("model.embed_tokens.weight", [5, 3], 1),
            Halves("model.layers.0.self_attn.q_proj.weight", GgmlType.F16, [3, 3], 2),
            Halves("model.norm.weight", GgmlType.BF16, [3], 3),
            Floats("empty", [0, 4], 4),
        };
        var files = SafetensorsWriter.Write(dir.Path, specs, metadata: new Dictionary<string, string> { ["format"] = "pt", ["note"] = "x" });
        Assert.Equal([dir.File("model.safetensors")], files);

        using var ckpt = SafetensorsCheckpoint.Open(dir.Path);
        Assert.Equal(specs.Select(s => s.Name).Order(), ckpt.TensorNames.Order());
        var emb = ckpt.Get("model.embed_tokens.weight");
        Assert.Equal(GgmlType.F32, emb.Type);
        Assert.Equal([5L, 3L], emb.Shape);
        Assert.Equal(Enumerable.Range(0, 15).Select(i => 1 + i * 0.25f), ReadFloats(emb));
        Assert.Equal(GgmlType.F16, ckpt.Get("model.layers.0.self_attn.q_proj.weight").Type);
        Assert.Equal(GgmlType.BF16, ckpt.Get("model.norm.weight").Type);
        Assert.Equal("x", ckpt.Files[0].Metadata["note"]);

        // The header is padded to 8 bytes as the reference writer does, so the data section starts aligned.
        var raw = File.ReadAllBytes(files[0]);
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(raw) % 8);
        var e = Assert.Throws<FormatException>(() => ckpt.Get("nope"));
        Assert.Contains("nope", e.Message);
    }

    [Fact]
    public void ShardsAreNamedAsHuggingFaceDoesAndReadBackThroughTheIndex()
    {
        using var dir = Fixtures.TempDir();
        var specs = Enumerable.Range(0, 5).Select(i => Floats($"t{i}", [4, 8], i)).ToArray(); // 128 bytes each
        var files = SafetensorsWriter.Write(dir.Path, specs, maxShardBytes: 300);
        Assert.Equal(["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", "model.safetensors.index.json"],
            files.Select(Path.GetFileName));
        Assert.Contains("\"total_size\": 640", File.ReadAllText(dir.File("model.safetensors.index.json")));

        using var ckpt = SafetensorsCheckpoint.Open(dir.Path);
        Assert.Equal(3, ckpt.Files.Count);
        for (int i = 0; i < 5; i++)
            Assert.Equal(Enumerable.Range(0, 32).Select(j => i + j * 0.25f), ReadFloats(ckpt.Get($"t{i}")));
    }

    [Fact]
    public void CallbackWritingTheWrongByteCountIsCaught()
    {
        using var dir = Fixtures.TempDir();
        var shortWrite = new TensorSpec("short", GgmlType.F32, [4], s => s.Write(new byte[12]));
        Assert.Contains("short", Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.WriteFile(dir.File("a.safetensors"), [shortWrite])).Message);
        var longWrite = new TensorSpec("long", GgmlType.F32, [4], s => s.Write(new byte[20]));
        Assert.Contains("long", Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.WriteFile(dir.File("b.safetensors"), [longWrite])).Message);
    }

    /// <summary>A file from a hand-written header and a data section of the given size.</summary>
    private static string Handmade(TempDir dir, string header, int dataBytes, string name = "m.safetensors", long? declaredLength = null)
    {
        byte[] h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)(declaredLength ?? h.Length));
        h.CopyTo(bytes, 8);
        string path = dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Theory]
    [InlineData("""{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}""", 8, "w", "past the end")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}""", 16, "w", "needs 16 bytes")]
    [InlineData("""{"w":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}""", 16, "w", "I64")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 16, "b", "overlaps tensor a")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", 16, "w", "begin <= end")]
    [InlineData("""{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", 16, "w", "non-negative")]
    [InlineData("""{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}""", 16, "w", "needs more")]
    [InlineData("""{"w":{"dtype":"F32","data_offsets":[0,16]}}""", 16, "w", "shape")]
    [InlineData("""{"w":[1,2]}""", 16, "w", "not an object")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}""", 16, "m.safetensors", "not valid JSON")]
    public void DefectsAreFormatExceptionsNamingFileAndTensor(string header, int dataBytes, string tensor, string expected)
    {
        using var dir = Fixtures.TempDir();
        string path = Handmade(dir, header, dataBytes);
        var e = Assert.Throws<FormatException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(tensor, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void TruncatedAndEmptyFilesAreRefused()
    {
        using var dir = Fixtures.TempDir();
        var specs = new[] { Floats("a", [4], 0), Floats("b", [4], 1) };
        SafetensorsWriter.WriteFile(dir.File("full.safetensors"), specs);
        var bytes = File.ReadAllBytes(dir.File("full.safetensors"));
        File.WriteAllBytes(dir.File("cut.safetensors"), bytes[..^4]);
        var e = Assert.Throws<FormatException>(() => SafetensorsFile.Open(dir.File("cut.safetensors")));
        Assert.Contains("cut.safetensors", e.Message);
        Assert.Contains("tensor b", e.Message);

        File.WriteAllBytes(dir.File("header.safetensors"), bytes[..20]);
        Assert.Contains("truncated", Assert.Throws<FormatException>(() => SafetensorsFile.Open(dir.File("header.safetensors"))).Message);
        File.WriteAllBytes(dir.File("tiny.safetensors"), bytes[..5]);
        Assert.Contains("too short", Assert.Throws<FormatException>(() => SafetensorsFile.Open(dir.File("tiny.safetensors"))).Message);
        File.WriteAllBytes(dir.File("empty.safetensors"), []);
        Assert.Contains("empty", Assert.Throws<FormatException>(() => SafetensorsFile.Open(dir.File("empty.safetensors"))).Message);
        Assert.Contains("missing.safetensors", Assert.Throws<FormatException>(() => SafetensorsFile.Open(dir.File("missing.safetensors"))).Message);
    }

    [Fact]
    public void IndexAndShardsMustAgree()
    {
        using var dir = Fixtures.TempDir();
        SafetensorsWriter.Write(dir.Path, [Floats("a", [4], 0), Floats("b", [4], 1), Floats("c", [4], 2)], maxShardBytes: 20);
        string index = dir.File("model.safetensors.index.json");
        string original = File.ReadAllText(index);

        // Listed in the index, absent from its shard.
        File.WriteAllText(index, original.Replace("\"a\":", "\"ghost\": \"model-00001-of-00003.safetensors\", \"a\":"));
        var e = Assert.Throws<FormatException>(() => SafetensorsCheckpoint.Open(dir.Path));
        Assert.Contains("ghost", e.Message);
        Assert.Contains("model-00001-of-00003.safetensors", e.Message);

        // A shard the index names but the folder lacks.
        File.WriteAllText(index, original.Replace("model-00003-of-00003", "model-00009-of-00003"));
        e = Assert.Throws<FormatException>(() => SafetensorsCheckpoint.Open(dir.Path));
        Assert.Contains("model-00009-of-00003.safetensors", e.Message);
        Assert.Contains("tensor c", e.Message);

        // A shard holding a tensor the index does not list (an unexpected tensor).
        File.WriteAllText(index, original.Replace("\"c\": \"model-00003-of-00003.safetensors\"", "\"c\": \"model-00002-of-00003.safetensors\""));
        e = Assert.Throws<FormatException>(() => SafetensorsCheckpoint.Open(dir.Path));
        Assert.Contains("tensor c", e.Message);

        // The same tensor listed twice.
        File.WriteAllText(index, original.Replace("\"a\":", "\"b\": \"model-00002-of-00003.safetensors\", \"a\":"));
        e = Assert.Throws<FormatException>(() => SafetensorsCheckpoint.Open(dir.Path));
        Assert.Contains("twice", e.Message);

        // A path that would leave the folder.
        File.WriteAllText(index, original.Replace("model-00001-of-00003.safetensors", "../model-00001-of-00003.safetensors"));
        e = Assert.Throws<FormatException>(() => SafetensorsCheckpoint.Open(dir.Path));
        Assert.Contains("tensor a", e.Message);

        File.WriteAllText(index, "{ broken");
        Assert.Contains("model.safetensors.index.json", Assert.Throws<FormatException>(() => SafetensorsCheckpoint.Open(dir.Path)).Message);
    }

    [Fact]
    public void EmptyFolderIsRefused()
    {
        using var dir = Fixtures.TempDir();
        var e = Assert.Throws<FormatException>(() => SafetensorsCheckpoint.Open(dir.Path));
        Assert.Contains("model.safetensors", e.Message);
    }
}
