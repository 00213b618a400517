using System.Runtime.InteropServices;
using System.Security.Cryptography;
using QwenSharp.Formats;

namespace QwenSharp.Tests.Formats;

/// <summary>A written weights file's pages leave the page cache (so the first load reads them onto huge pages), its
/// bytes unchanged; small files are left alone.</summary>
public sealed unsafe class PageCacheTests
{
    [Fact]
    public void Release_drops_a_large_files_cached_pages_and_keeps_its_bytes()
    {
        if (!OperatingSystem.IsLinux()) return; // posix_fadvise and mincore are Linux's; elsewhere Release does nothing
        // Next to the test binaries, on the checkout's file system: /tmp may be tmpfs, whose pages are the file itself.
        string dir = Path.Combine(AppContext.BaseDirectory, "page-cache-test");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "weights.bin");
        try
        {
            var bytes = new byte[PageCache.MinBytes + 4096];
            new Random(5).NextBytes(bytes);
            File.WriteAllBytes(path, bytes);
            Assert.True(ResidentPages(path) > 0, "a file just written is in the page cache");
            PageCache.Release(path);
            Assert.Equal(0, ResidentPages(path));
            Assert.Equal(SHA256.HashData(bytes), SHA256.HashData(File.ReadAllBytes(path)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Release_leaves_small_files_cached()
    {
        if (!OperatingSystem.IsLinux()) return;
        string dir = Path.Combine(AppContext.BaseDirectory, "page-cache-test");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "config.bin");
        try
        {
            File.WriteAllBytes(path, new byte[1 << 20]);
            long before = ResidentPages(path);
            PageCache.Release(path);
            Assert.Equal(before, ResidentPages(path));
            PageCache.Release(Path.Combine(dir, "no such file")); // nothing to do, nothing thrown
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Pages of the file in the page cache, by mincore over a read-only mapping (mapping touches none).</summary>
    private static long ResidentPages(string path)
    {
        using var file = MappedFile.Open(path);
        long pages = (file.Length + 4095) / 4096;
        var vector = new byte[pages];
        fixed (byte* v = vector)
            Assert.Equal(0, mincore(file.Pointer, (nuint)file.Length, v));
        return vector.Count(b => (b & 1) != 0);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int mincore(void* address, nuint length, byte* vector);
}
