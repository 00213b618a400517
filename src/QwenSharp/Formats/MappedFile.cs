using System.IO.MemoryMappedFiles;

namespace QwenSharp.Formats;

/// <summary>
/// A whole file mapped read-only into memory. Tensor views point straight into it, so weights are paged in
/// by the OS on first touch and never copied onto the managed heap. Disposing unmaps it.
/// </summary>
public sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _pointer;

    private MappedFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, long length)
    {
        Path = path;
        _map = map;
        _view = view;
        Length = length;
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _pointer = p + _view.PointerOffset;
        AdviseHugePages(p, _view.PointerOffset + length);
    }

    /// <summary>Asks Linux to back the mapping with 2 MB pages where the page cache holds 2 MB folios
    /// (MADV_HUGEPAGE; transparent_hugepage is "madvise" by default). Decode streams every weight once per token:
    /// with 4 KB pages that is a TLB miss every 4 KB, and the hardware prefetchers stop at every 4 KB boundary.
    /// Only advice: a kernel that refuses it (an old one, another OS) maps as before.</summary>
    private static void AdviseHugePages(byte* start, long length)
    {
        if (!OperatingSystem.IsLinux()) return;
        try { madvise(start, (nuint)length, 14 /* MADV_HUGEPAGE */); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern int madvise(byte* start, nuint length, int advice);

    public string Path { get; }
    /// <summary>Size of the file in bytes.</summary>
    public long Length { get; }

    /// <summary>The first byte of the file; valid until <see cref="Dispose"/>.</summary>
    public byte* Pointer => _pointer != null ? _pointer : throw new ObjectDisposedException(Path);

    /// <summary>Maps <paramref name="path"/>; a missing, unreadable or empty file is a <see cref="FormatException"/>.</summary>
    public static MappedFile Open(string path)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new FormatException($"Cannot open {path}: {e.Message}", e);
        }

        long length = stream.Length;
        if (length == 0)
        {
            stream.Dispose();
            // MemoryMappedFile refuses a zero capacity with an obscure message; say what is wrong instead.
            throw new FormatException($"{path} is empty (0 bytes).");
        }

        try
        {
            var map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new MappedFile(path, map, view, length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stream.Dispose();
            throw new FormatException($"Cannot map {path} into memory: {e.Message}", e);
        }
    }

    /// <summary>The bytes [offset, offset + count) as a span; count must fit an int (headers, not whole tensors).</summary>
    public ReadOnlySpan<byte> Span(long offset, int count)
    {
        if (offset < 0 || count < 0 || offset > Length - count)
            throw new ArgumentOutOfRangeException(nameof(offset), $"Bytes [{offset}, {offset + count}) lie outside {Path} ({Length} bytes).");
        return new ReadOnlySpan<byte>(Pointer + offset, count);
    }

    public void Dispose()
    {
        if (_pointer == null) return;
        _pointer = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
