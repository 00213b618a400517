using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace QwenSharp.Bench;

/// <summary>
/// `qwensharp serve` as its own process on a free loopback port, as users run it: the soak and fuzz runs talk to it
/// over HTTP, read its resident memory from /proc and keep its log lines (to count errors).
/// </summary>
public sealed class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _log = new();

    public ServerProcess(string model, params string[] extraArgs)
    {
        Port = FreePort();
        string cli = Path.Combine(AppContext.BaseDirectory, "QwenSharp.Cli");
        var start = new ProcessStartInfo(cli) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "serve", "--model", model, "--port", Port.ToString(CultureInfo.InvariantCulture) }.Concat(extraArgs))
            start.ArgumentList.Add(a);
        _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {cli}");
        _process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (_log) _log.Add(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_log) _log.Add(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}/"), Timeout = TimeSpan.FromMinutes(5) };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException($"the server exited with {_process.ExitCode}:\n{string.Join('\n', Log)}");
            try
            {
                if (Http.GetAsync("health").GetAwaiter().GetResult().IsSuccessStatusCode) break;
            }
            catch (HttpRequestException) { }
            if (clock.Elapsed > TimeSpan.FromMinutes(3)) throw new TimeoutException("the server did not answer /health within 3 minutes");
            Thread.Sleep(200);
        }
    }

    public int Port { get; }
    public HttpClient Http { get; }
    public bool Alive => !_process.HasExited;

    public IReadOnlyList<string> Log
    {
        get { lock (_log) return _log.ToList(); }
    }

    /// <summary>ASP.NET's console logger marks errors "fail:" and critical lines "crit:".</summary>
    public int ErrorLines => Log.Count(l => l.StartsWith("fail:", StringComparison.Ordinal) || l.StartsWith("crit:", StringComparison.Ordinal));

    /// <summary>Resident set size in bytes (VmRSS of /proc/pid/status).</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        return 0;
    }

    /// <summary>A gauge or counter of /metrics (the first sample of that name).</summary>
    public double Metric(string name)
    {
        string text = Http.GetStringAsync("metrics").GetAwaiter().GetResult();
        foreach (var line in text.Split('\n'))
            if (line.StartsWith(name, StringComparison.Ordinal) && line.Length > name.Length && line[name.Length] is '{' or ' ')
                return double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        throw new KeyNotFoundException($"/metrics has no {name}");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        _process.Dispose();
    }
}
