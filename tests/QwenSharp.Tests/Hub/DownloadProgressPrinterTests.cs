using QwenSharp.Hub;

namespace QwenSharp.Tests.Hub;

public class DownloadProgressPrinterTests
{
    [Fact]
    public void Line_ShowsSizePercentSpeedAndEta()
    {
        // 100 MB of 400 MB in 10 s from zero: 10 MB/s, 300 MB left = 30 s.
        var p = new DownloadProgress("model.gguf", 100_000_000, 400_000_000, 0, TimeSpan.FromSeconds(10), false);
        Assert.Equal("model.gguf  100 MB / 400 MB  25%  10.0 MB/s  ETA 0:30", DownloadProgressPrinter.Format(p));
    }

    [Fact]
    public void Terminal_RedrawsInPlace_Log_WritesWholeLines()
    {
        var terminal = new StringWriter();
        var t = new DownloadProgressPrinter(terminal, redraw: true);
        t.Report(new("a.gguf", 0, 1000, 0, TimeSpan.Zero, false));
        t.Report(new("a.gguf", 500, 1000, 0, TimeSpan.FromSeconds(1), false));
        t.Report(new("a.gguf", 1000, 1000, 0, TimeSpan.FromSeconds(2), true));
        Assert.Equal(3, terminal.ToString().Count(c => c == '\r'));
        // The last line is padded over the longer one before it, then ended.
        Assert.Matches("done *" + Environment.NewLine + "$", terminal.ToString());

        var log = new StringWriter();
        var l = new DownloadProgressPrinter(log, redraw: false);
        l.Report(new("a.gguf", 0, 1000, 0, TimeSpan.Zero, false));
        l.Report(new("a.gguf", 500, 1000, 0, TimeSpan.FromSeconds(1), false));
        l.Report(new("a.gguf", 1000, 1000, 0, TimeSpan.FromSeconds(2), true));
        Assert.DoesNotContain('\r', log.ToString());
        Assert.Equal(["a.gguf  1.00 kB / 1.00 kB  100%  500 B/s  done"], log.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void DiskFull_FromARealEnospc_IsRecognised()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/dev/full")) return;
        // Writing to /dev/full fails with ENOSPC, exactly as a full disk does.
        var e = Assert.ThrowsAny<IOException>(() =>
        {
            using var f = new FileStream("/dev/full", FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
            f.Write(new byte[4096]);
            f.Flush();
        });
        Assert.True(HubHttp.IsDiskFull(e));
        Assert.Contains("disk is full", HubHttp.DiskFull("/tmp/x/blob.incomplete", 1_000_000, e).Message);
        Assert.False(HubHttp.IsDiskFull(new FileNotFoundException("x")));
    }
}
