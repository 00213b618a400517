using System.Globalization;
using System.Runtime.InteropServices;

namespace QwenSharp.Bench;

/// <summary>
/// A directory used as a lock among the jobs that share this machine: while it exists nobody starts builds, tests or
/// other benchmarks. A benchmark whose untimed part is long (a fill of 8,192 tokens on the 7B takes minutes per
/// engine) takes the lock only around its timed runs, and waits for the load the others left to die down first, so
/// the figures come from a quiet machine without keeping everyone else idle through the fill.
/// </summary>
internal sealed class QuietLock : IDisposable
{
    private readonly string _path;

    private QuietLock(string path) => _path = path;

    /// <summary>Takes the lock at <paramref name="path"/> (null: no lock, returns null), waiting for whoever holds it,
    /// then waits until the one-minute load average is below <paramref name="load"/> (at most five minutes).</summary>
    public static QuietLock? Take(string? path, double load = 2.5)
    {
        if (path == null) return null;
        while (true)
        {
            // mkdir(2) fails when the directory exists, which makes taking the lock atomic (Directory.CreateDirectory
            // does not fail there); the shell's `mkdir` used by the others is the same call.
            if (mkdir(path, 0x1ED) == 0)
            {
                File.WriteAllText(Path.Combine(path, "owner"), $"QwenSharp.Bench {string.Join(' ', Environment.GetCommandLineArgs().Skip(1))} (pid {Environment.ProcessId}) {DateTime.UtcNow:O}\n");
                break;
            }
            Thread.Sleep(5000);
        }
        var until = DateTime.UtcNow.AddMinutes(5);
        while (LoadAverage() >= load && DateTime.UtcNow < until) Thread.Sleep(5000);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"quiet lock {path} taken, load average {LoadAverage():F2}"));
        return new QuietLock(path);
    }

    private static double LoadAverage()
    {
        try { return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture); }
        catch (IOException) { return 0; }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int mkdir(string path, uint mode);

    public void Dispose()
    {
        try { Directory.Delete(_path, recursive: true); }
        catch (IOException) { }
    }
}
