using QwenSharp.Quantization;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Quantization;

/// <summary>The per-tensor progress of quantize and convert: a line per tensor into a log, one line redrawn in place
/// on a terminal (ten redraws a second at most, the last tensor always shown and the line ended).</summary>
public class QuantizeProgressPrinterTests
{
    private static QuantizeProgress At(int index, int count, string name, long bytes, double seconds) =>
        new(index, count, name, GgmlType.F16, GgmlType.Q8_0, bytes, TimeSpan.FromSeconds(seconds));

    [Fact]
    public void ALineSaysIndexCountNameTypesSizeAndElapsed()
    {
        string line = QuantizeProgressPrinter.Format(At(11, 290, "blk.0.attn_q.weight", 1_062_912, 4.2));
        Assert.Matches(@"^\[ 12/290\] blk\.0\.attn_q\.weight +F16 +-> Q8_0 +1\.06 MB  0:04$", line);
        Assert.StartsWith("[1/9] ", QuantizeProgressPrinter.Format(At(0, 9, "x", 10, 0)));
        Assert.EndsWith("1:01:05", QuantizeProgressPrinter.Format(At(0, 9, "x", 10, 3665)));
    }

    [Fact]
    public void IntoALogEveryTensorIsALine()
    {
        var w = new StringWriter();
        var printer = new QuantizeProgressPrinter(w, redraw: false);
        for (int i = 0; i < 5; i++) printer.Report(At(i, 5, $"t{i}", 100, i * 0.01));
        var lines = w.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, lines.Length);
        Assert.DoesNotContain('\r', w.ToString());
        Assert.StartsWith("[5/5] t4 ", lines[^1]);
    }

    [Fact]
    public void OnATerminalOneLineIsRedrawnAtMostTenTimesASecond()
    {
        var w = new StringWriter();
        var printer = new QuantizeProgressPrinter(w, redraw: true);
        printer.Report(At(0, 4, "a-long-tensor-name", 100, 0.00));
        printer.Report(At(1, 4, "b", 100, 0.05));   // within 100 ms of the last redraw: skipped
        printer.Report(At(2, 4, "c", 100, 0.20));
        printer.Report(At(3, 4, "d", 100, 0.21));   // the last tensor is always drawn, and ends the line
        string text = w.ToString();
        var draws = text.Split('\r', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, draws.Length);
        Assert.StartsWith("[1/4] a-long-tensor-name", draws[0]);
        Assert.StartsWith("[3/4] c ", draws[1]);
        Assert.StartsWith("[4/4] d ", draws[2]);
        // Each redraw covers the previous line: padded to at least its length.
        Assert.True(draws[1].Length >= draws[0].Length);
        Assert.EndsWith(Environment.NewLine, text);
        Assert.Single(text.Split(Environment.NewLine), l => l.Length > 0);
    }
}
