using System.Globalization;
using QwenSharp.Hub;

namespace QwenSharp.Quantization;

/// <summary>
/// Prints quantize/convert progress per tensor ("[  12/ 290] blk.0.attn_q.weight  F16 -> Q8_0  1.06 MB  0:04"),
/// in the style of <see cref="DownloadProgressPrinter"/>: on a terminal one line redrawn in place with '\r' (at most
/// ten times a second, and always for the last tensor, which ends the line); into a log or pipe a whole line per
/// tensor, as llama-quantize prints one.
/// </summary>
public sealed class QuantizeProgressPrinter(TextWriter writer, bool redraw)
{
    private static readonly TimeSpan RedrawInterval = TimeSpan.FromMilliseconds(100);

    private readonly object _gate = new();
    private TimeSpan? _lastWrite;
    private int _lastLength;

    /// <summary>A printer for <paramref name="writer"/>, redrawing only when it is the process's stderr and that is a terminal.</summary>
    public static QuantizeProgressPrinter For(TextWriter writer) =>
        new(writer, ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected);

    public void Report(QuantizeProgress p)
    {
        lock (_gate)
        {
            bool last = p.Index + 1 == p.Count;
            string line = Format(p);
            if (!redraw)
            {
                writer.WriteLine(line);
                writer.Flush();
                return;
            }
            if (!last && _lastWrite is { } previous && p.Elapsed - previous < RedrawInterval) return;
            _lastWrite = p.Elapsed;
            // Pad over the previous, longer line; end the line after the last tensor.
            writer.Write('\r' + line.PadRight(_lastLength));
            _lastLength = line.Length;
            if (last)
            {
                writer.WriteLine();
                _lastLength = 0;
                _lastWrite = null;
            }
            writer.Flush();
        }
    }

    /// <summary>The progress line for <paramref name="p"/>, without line ending.</summary>
    public static string Format(QuantizeProgress p)
    {
        int width = p.Count.ToString(CultureInfo.InvariantCulture).Length;
        string index = (p.Index + 1).ToString(CultureInfo.InvariantCulture).PadLeft(width);
        return $"[{index}/{p.Count}] {p.Name,-32} {p.From,-5} -> {p.To,-5} {DownloadProgressPrinter.Size(p.Bytes),9}  {DownloadProgressPrinter.Duration(p.Elapsed)}";
    }
}
