using System.Buffers.Binary;
using System.Diagnostics;
using QwenSharp.Formats;
using QwenSharp.Tensors;
using Xunit.Abstractions;

namespace QwenSharp.Tests.Formats;

/// <summary>
/// Mutated GGUF and safetensors headers (bit flips, overwritten fields with huge values, truncations) must end in a
/// <see cref="FormatException"/> or a valid parse, never another exception, and must never allocate much more
/// than the input: counts and lengths are checked against the remaining bytes before anything is allocated.
/// </summary>
public unsafe class HeaderFuzzTests(ITestOutputHelper output)
{
    private static byte[] Seed()
    {
        using var dir = Fixtures.TempDir();
        var w = new GgufWriter()
            .SetString("general.architecture", "qwen2").SetUInt32("qwen2.context_length", 64)
            .Set("qwen2.attention.layer_norm_rms_epsilon", 1e-6f).Set("b", true).Set("i8", (sbyte)-1).Set("u16", (ushort)3)
            .Set("i16", (short)-3).Set("u64", 9UL).Set("i64", -9L).Set("f64", 0.5).Set("u8", (byte)1)
            .Set("tokenizer.ggml.tokens", GgufArray.Of(["a", "b", "ab", "Ġ"]))
            .Set("tokenizer.ggml.token_type", GgufArray.Of([1, 1, 1, 3]))
            .Set("nested", GgufArray.Of([GgufArray.Of([1u, 2u]), GgufArray.Of(["z"])]))
            .AddTensor("token_embd.weight", GgmlType.F32, [4, 8], s => s.Write(new byte[128]))
            .AddTensor("blk.0.attn_q.weight", GgmlType.Q8_0, [2, 32], s => s.Write(new byte[68]))
            .AddTensor("output_norm.weight", GgmlType.F16, [8], s => s.Write(new byte[16]));
        w.Write(dir.File("seed.gguf"));
        return File.ReadAllBytes(dir.File("seed.gguf"));
    }

    [Fact]
    public void MutatedHeadersOnlyEverGiveFormatExceptionsAndBoundedAllocations()
    {
        byte[] seed = Seed();
        // Sanity: the seed itself parses.
        fixed (byte* p = seed) GgufFile.Parse("seed", p, seed.Length).Dispose();

        var rng = new Random(12345);
        var clock = Stopwatch.StartNew();
        int parsed = 0, refused = 0;
        long worstAllocation = 0;
        byte[] buffer = new byte[seed.Length];
        ulong[] huge = [ulong.MaxValue, 1UL << 63, 1UL << 62, 1UL << 40, 1UL << 32, uint.MaxValue, 0x7FFFFFFF, (ulong)seed.Length, 0];

        for (int iteration = 0; iteration < 6000; iteration++)
        {
            seed.CopyTo(buffer, 0);
            int length = seed.Length;
            switch (iteration % 4)
            {
                case 0: // a few bit flips anywhere in the header region
                    for (int k = rng.Next(1, 6); k > 0; k--)
                    {
                        int at = rng.Next(Math.Min(length, 700));
                        buffer[at] ^= (byte)(1 << rng.Next(8));
                    }
                    break;
                case 1: // a 64-bit field overwritten with a huge or edge value
                    BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(rng.Next(4, Math.Min(length, 700) - 8)), huge[rng.Next(huge.Length)]);
                    break;
                case 2: // a 32-bit field (a type, a dim count) overwritten
                    BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(rng.Next(4, Math.Min(length, 700) - 4)), (uint)huge[rng.Next(huge.Length)] ^ (uint)rng.Next(16));
                    break;
                case 3: // truncation, sometimes after a flip
                    length = rng.Next(0, seed.Length);
                    if (rng.Next(2) == 0 && length > 0) buffer[rng.Next(length)] ^= 0xFF;
                    break;
            }

            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                fixed (byte* p = buffer) GgufFile.Parse("fuzz.gguf", p, length).Dispose();
                parsed++;
            }
            catch (FormatException e)
            {
                Assert.Contains("fuzz.gguf", e.Message);
                refused++;
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            worstAllocation = Math.Max(worstAllocation, allocated);
        }

        output.WriteLine($"{parsed} parsed, {refused} refused, worst allocation {worstAllocation} bytes for {seed.Length} input bytes, {clock.ElapsedMilliseconds} ms");
        // Any other exception type would have failed the test above. Each parse allocates at most a small multiple of
        // the input (about 1 KB here), whatever counts the mutated header declares.
        Assert.True(worstAllocation < 64 * seed.Length + 64 * 1024, $"A parse allocated {worstAllocation} bytes for a {seed.Length}-byte file.");
        Assert.True(refused > 3000, $"Only {refused} of 6000 mutations were refused.");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"Fuzzing took {clock.Elapsed}.");
    }

    [Fact]
    public void MutatedSafetensorsHeadersOnlyEverGiveFormatExceptions()
    {
        byte[] seed;
        using (var dir = Fixtures.TempDir())
        {
            SafetensorsWriter.WriteFile(dir.File("s.safetensors"),
            [
                new TensorSpec("model.embed_tokens.weight", GgmlType.F32, [4, 8], s => s.Write(new byte[128])),
                new TensorSpec("model.norm.weight", GgmlType.BF16, [8], s => s.Write(new byte[16])),
                new TensorSpec("lm_head.weight", GgmlType.F16, [4, 8], s => s.Write(new byte[64])),
            ]);
            seed = File.ReadAllBytes(dir.File("s.safetensors"));
        }
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(seed);
        // Characters that turn one valid JSON token into another: digits, signs, brackets, quotes.
        byte[] swaps = "0123456789-+.eE[]{}\",: nulltrue"u8.ToArray();
        var rng = new Random(54321);
        var buffer = new byte[seed.Length];
        int parsed = 0, refused = 0;
        for (int iteration = 0; iteration < 4000; iteration++)
        {
            seed.CopyTo(buffer, 0);
            int length = seed.Length;
            switch (iteration % 3)
            {
                case 0:
                    for (int k = rng.Next(1, 4); k > 0; k--) buffer[rng.Next(8, headerEnd)] = swaps[rng.Next(swaps.Length)];
                    break;
                case 1:
                    buffer[rng.Next(0, headerEnd)] ^= (byte)(1 << rng.Next(8));
                    break;
                case 2:
                    length = rng.Next(0, seed.Length);
                    break;
            }
            try
            {
                fixed (byte* p = buffer) SafetensorsFile.Parse("fuzz.safetensors", p, length).Dispose();
                parsed++;
            }
            catch (FormatException e)
            {
                Assert.Contains("fuzz.safetensors", e.Message);
                refused++;
            }
        }
        output.WriteLine($"{parsed} parsed, {refused} refused");
        Assert.True(refused > 2000, $"Only {refused} of 4000 mutations were refused.");
    }
}
