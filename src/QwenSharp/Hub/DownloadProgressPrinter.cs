using System.Globalization;

namespace QwenSharp.Hub;

/// <summary>
/// Writes one plain-text progress line per file ("name  1.2 GiB / 4.4 GiB  27%  85.3 MB/s  ETA 0:38") to a
/// writer, usually stderr. On a terminal the line is redrawn in place with '\r' about ten times a second; into a
/// log or pipe it is written as a whole line every <see cref="LogInterval"/> and once when the file is done,
/// so logs stay readable.
/// </summary>
public sealed class DownloadProgressPrinter(TextWriter writer, bool redraw) : IProgress<DownloadProgress>
{
    private static readonly TimeSpan RedrawInterval = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    private readonly object _gate = new();
    private string? _file;
    private TimeSpan? _lastWrite;
    private int _lastLength;

    /// <summary>A printer for the process's stderr, redrawing only when stderr is a terminal.</summary>
    public static DownloadProgressPrinter ForConsoleError() => new(Console.Error, !Console.IsErrorRedirected);

    public void Report(DownloadProgress p)
    {
        lock (_gate)
        {
            bool newFile = p.File != _file;
            if (newFile)
            {
                if (_file != null && redraw && _lastLength > 0) writer.WriteLine();
                _file = p.File;
                _lastWrite = null;
                _lastLength = 0;
            }
            TimeSpan interval = redraw ? RedrawInterval : LogInterval;
            if (!p.Done && _lastWrite is { } last && p.Elapsed - last < interval) return;
            // Into a log, the first line of a file waits for the first interval (small files print only "done").
            if (!p.Done && !redraw && _lastWrite == null) { _lastWrite = p.Elapsed; return; }
            _lastWrite = p.Elapsed;
            string line = Format(p);
            if (redraw)
            {
                // Pad over the previous, longer line; end the line when the file is done.
                writer.Write('\r' + line.PadRight(_lastLength));
                _lastLength = line.Length;
                if (p.Done) { writer.WriteLine(); _lastLength = 0; _file = null; }
            }
            else
            {
                writer.WriteLine(line);
                if (p.Done) _file = null;
            }
            writer.Flush();
        }
    }

    /// <summary>The progress line for <paramref name="p"/>, without line ending.</summary>
    public static string Format(DownloadProgress p)
    {
        var parts = new List<string> { p.File };
        parts.Add(p.Total is { } total ? $"{Size(p.Received)} / {Size(total)}" : Size(p.Received));
        if (p.Total is { } t && t > 0) parts.Add(((double)p.Received / t).ToString("P0", CultureInfo.InvariantCulture).Replace(" ", ""));
        if (p.Received > p.ResumedFrom) parts.Add(Size((long)p.BytesPerSecond) + "/s");
        if (p.Done) parts.Add(p.ResumedFrom > 0 ? $"done (resumed at {Size(p.ResumedFrom)})" : "done");
        else if (p.Remaining is { } eta) parts.Add("ETA " + Duration(eta));
        return string.Join("  ", parts);
    }

    /// <summary>Decimal units, as download tools and the Hub's web page show sizes.</summary>
    public static string Size(long bytes)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB"];
        double v = bytes;
        int u = 0;
        while (v >= 1000 && u < units.Length - 1) { v /= 1000; u++; }
        return u == 0 ? $"{bytes} B" : v.ToString(v < 10 ? "0.00" : v < 100 ? "0.0" : "0", CultureInfo.InvariantCulture) + " " + units[u];
    }

    public static string Duration(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}" : $"{t.Minutes}:{t.Seconds:00}";
}
