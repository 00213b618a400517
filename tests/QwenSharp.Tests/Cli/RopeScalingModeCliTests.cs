using System.Text.Json.Nodes;
using QwenSharp.Cli;
using QwenSharp.Cli.Commands;
using QwenSharp.Model;
using QwenSharp.Tensors;
using QwenSharp.Tests.Model;

namespace QwenSharp.Tests.Cli;

/// <summary>
/// <c>--rope-scaling-mode</c> on serve, generate, chat and perplexity: parsed, refused naming the allowed values, and
/// honoured (perplexity's windows, generate's reported table) on the "yarn" tiny shape (original context 32).
/// </summary>
public class RopeScalingModeCliTests
{
    private static (int Code, string Stdout, string Stderr) Run(params string[] args) => GenerateCommandTests.Run(args);

    [Fact]
    public void ServeReadsTheModeLengthAwareByDefault()
    {
        Assert.Equal(RopeScalingMode.LengthAware, ServeCommand.ReadOptions(new CliArgs(["--model", "m.gguf"], new ServeCommand().Flags)).RopeScalingMode);
        Assert.Equal(RopeScalingMode.Static,
            ServeCommand.ReadOptions(new CliArgs(["--model", "m.gguf", "--rope-scaling-mode", "static"], new ServeCommand().Flags)).RopeScalingMode);
        var e = Assert.Throws<CliException>(() =>
            ServeCommand.ReadOptions(new CliArgs(["--model", "m.gguf", "--rope-scaling-mode", "dynamic"], new ServeCommand().Flags)));
        Assert.Equal("--rope-scaling-mode 'dynamic' is not a mode; the allowed ones are length-aware, static.", e.Message);
    }

    [Theory]
    [InlineData("generate", "--prompt", "abc")]
    [InlineData("chat")]
    [InlineData("perplexity", "--tokens", "ids.txt")]
    public void EveryCommandRefusesABadModeNamingTheAllowedOnes(string command, params string[] rest)
    {
        var (code, _, stderr) = Run([command, "--model", "m.gguf", .. rest, "--rope-scaling-mode", "yarn"]);
        Assert.Equal(1, code);
        Assert.Equal("error: --rope-scaling-mode 'yarn' is not a mode; the allowed ones are length-aware, static.", stderr.Trim());
    }

    private static string Perplexity(string shape, int ctx, string? mode)
    {
        using var dir = Fixtures.TempDir();
        File.WriteAllText(dir.File("ids.txt"), string.Join(" ", TinyModels.Tokens(4 * 64, TinyModels.Config("yarn").VocabSize, seed: 41)));
        string[] args = ["perplexity", "--model", TinyModels.Gguf(shape, GgmlType.F32), "--tokens", dir.File("ids.txt"), "--ctx", ctx.ToString(),
            "--kv-cache-dtype", "f32", "--threads", "2"];
        var (code, stdout, stderr) = Run(mode == null ? args : [.. args, "--rope-scaling-mode", mode]);
        Assert.True(code == 0, stderr);
        return stdout.TrimEnd().Split('\n')[^1];
    }

    /// <summary>Each window runs under the table its length picks: windows of 32 (the original context) are the model without
    /// rope_scaling, windows of 64 are static YaRN; in static mode every window is YaRN.</summary>
    [Fact]
    public void PerplexityWindowsRunUnderTheTableTheirLengthPicks()
    {
        string plainTwin = Perplexity("yarn-norope", 32, null);
        Assert.Equal(plainTwin, Perplexity("yarn", 32, null));
        Assert.Equal(plainTwin, Perplexity("yarn", 32, "length-aware"));
        Assert.NotEqual(plainTwin, Perplexity("yarn", 32, "static"));
        Assert.Equal(Perplexity("yarn", 64, "static"), Perplexity("yarn", 64, "length-aware"));
    }

    [Fact]
    public void GenerateJsonReportsTheTableItRanUnder()
    {
        string path = TinyModels.Gguf("yarn", GgmlType.F32);
        JsonNode Rope(params string[] extra)
        {
            var (code, stdout, stderr) = Run(["generate", "--model", path, "--prompt", "abcd", "--raw", "--json", "--temperature", "0",
                "--ignore-eos", "--ctx", "64", "--kv-cache-dtype", "f32", "--threads", "2", .. extra]);
            Assert.True(code == 0, stderr);
            return JsonNode.Parse(stdout)!["sampling_params"]!["rope_scaling"]!;
        }
        Assert.Equal("""{"mode":"length-aware","rope":"plain"}""", Rope("--max-tokens", "8").ToJsonString());
        Assert.Equal("""{"mode":"length-aware","rope":"yarn"}""", Rope("--max-tokens", "40").ToJsonString());
        Assert.Equal("""{"mode":"static","rope":"yarn"}""", Rope("--max-tokens", "8", "--rope-scaling-mode", "static").ToJsonString());
        // No --max-tokens: the rest of the 64-token context, an open length that crosses 32 and is recomputed once.
        Assert.Equal("""{"mode":"length-aware","rope":"yarn","recomputed_at_tokens":33}""", Rope().ToJsonString());
    }
}
