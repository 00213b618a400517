using System.Runtime.InteropServices;

namespace QwenSharp.Formats;

/// <summary>
/// Lets go of a freshly written weights file's pages in the page cache, so that the first load reads it back through
/// <see cref="MappedFile"/>'s huge-page mapping. Pages left behind by the write stay in 4 KB pieces, and on this
/// project's VM a decode pass over a 7.5 GB file cached that way ran at 5-10 GB/s against 24-27 GB/s once it was
/// read back in 2 MB folios. The cost is one read of the file from disk at the next load. Linux only; elsewhere, and
/// wherever the kernel declines, nothing happens.
/// </summary>
public static class PageCache
{
    /// <summary>Files smaller than this (tokenizers, configs) are left alone: re-reading them buys nothing.</summary>
    public const long MinBytes = 64L << 20;

    /// <summary>Writes the file's dirty pages to disk and asks the kernel to drop its cached pages (fdatasync, then
    /// posix_fadvise DONTNEED). Pages another process has mapped stay.</summary>
    public static void Release(string path)
    {
        if (!OperatingSystem.IsLinux() || !File.Exists(path) || new FileInfo(path).Length < MinBytes) return;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            stream.Flush(flushToDisk: true); // only clean pages can be dropped
            posix_fadvise((int)stream.SafeFileHandle.DangerousGetHandle(), 0, 0, 4 /* POSIX_FADV_DONTNEED */);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            // Only advice: a file that cannot be opened for writing (read-only store) keeps its cached pages.
        }
    }

    [DllImport("libc")]
    private static extern int posix_fadvise(int fd, long offset, long length, int advice);
}
