using System.Diagnostics;

namespace QwenSharp.Tests.Cli;

/// <summary>`dotnet publish` of the CLI leaves the `qwensharp` command in the publish folder for any runtime
/// identifier (a Windows one: qwensharp.exe), not only the apphost under the assembly's name.</summary>
public class PublishTests
{
    [Theory]
    [InlineData("linux-arm64", "qwensharp")]
    [InlineData("win-x64", "qwensharp.exe")]
    public async Task Publish_leaves_a_qwensharp_executable(string rid, string command)
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "QwenSharp.slnx"))) root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("no QwenSharp.slnx above the test folder");
        string output = Path.Combine(Path.GetTempPath(), $"qwensharp-publish-{rid}-{Guid.NewGuid():N}");
        try
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
            foreach (var a in new[] { "publish", "src/QwenSharp.Cli", "-c", "Release", "-r", rid, "--self-contained", "false", "-o", output, "-nologo", "-v", "q" })
                start.ArgumentList.Add(a);
            using var p = Process.Start(start)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            await p.WaitForExitAsync(timeout.Token);
            Assert.True(p.ExitCode == 0, $"dotnet publish failed:\n{await stdout}\n{await stderr}");
            string exe = Path.Combine(output, command);
            Assert.True(File.Exists(exe), $"{command} is missing from the publish folder: {string.Join(", ", Directory.GetFiles(output).Select(Path.GetFileName))}");
            // The same bytes as the apphost the SDK made: it runs QwenSharp.Cli.dll beside it.
            Assert.Equal(File.ReadAllBytes(Path.Combine(output, "QwenSharp.Cli" + Path.GetExtension(command))), File.ReadAllBytes(exe));
            if (!OperatingSystem.IsWindows() && !command.EndsWith(".exe", StringComparison.Ordinal))
                Assert.True((File.GetUnixFileMode(exe) & UnixFileMode.UserExecute) != 0, $"{exe} is not executable");
        }
        finally
        {
            if (Directory.Exists(output)) Directory.Delete(output, true);
        }
    }
}
