using System.Buffers.Binary;
using System.Text;
using QwenSharp.Formats;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Formats;

/// <summary>Opening a checkpoint maps it: resident memory grows by the pages touched, not by the file's size.</summary>
public unsafe class MappedLoadTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>Resident set size of this process, from /proc/self/status (VmRSS, in kB).</summary>
    private static long ResidentBytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]) * 1024;
        throw new InvalidOperationException("/proc/self/status has no VmRSS line.");
    }

    [Fact]
    public void TwoGigabyteSafetensorsOpensWithoutBeingReadIntoMemory()
    {
        if (!OperatingSystem.IsLinux()) return; // VmRSS is a Linux measure
        using var dir = Fixtures.TempDir();
        const long rows = 16384, cols = 32768; // F32: exactly 2 GiB
        const long bytes = rows * cols * 4;
        string header = $$$"""{"__metadata__":{"format":"pt"},"model.embed_tokens.weight":{"dtype":"F32","shape":[{{{rows}}},{{{cols}}}],"data_offsets":[0,{{{bytes}}}]}}""";
        byte[] h = Encoding.UTF8.GetBytes(header);
        string path = dir.File("model.safetensors");
        using (var stream = File.Create(path))
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)h.Length);
            stream.Write(length);
            stream.Write(h);
            stream.SetLength(8 + h.Length + bytes); // sparse: nothing of the 2 GiB is written
        }

        GC.Collect();
        long before = ResidentBytes();
        using var checkpoint = SafetensorsCheckpoint.Open(dir.Path);
        var t = checkpoint.Get("model.embed_tokens.weight");
        // Touch the first and the last row, as a lookup of two embeddings would.
        float sum = 0;
        foreach (long row in new[] { 0L, rows - 1 })
        {
            var values = new ReadOnlySpan<float>(t.Row(row), (int)cols);
            foreach (float v in values) sum += v;
        }
        long grown = ResidentBytes() - before;
        output.WriteLine($"Resident memory grew by {grown >> 10} KiB for a {bytes >> 20} MiB file.");

        Assert.Equal(0f, sum);
        Assert.Equal(bytes, t.ByteLength);
        Assert.Equal(GgmlType.F32, t.Type);
        Assert.True(grown < 64L << 20, $"Resident memory grew by {grown >> 20} MiB while opening a {bytes >> 20} MiB file.");
    }
}
