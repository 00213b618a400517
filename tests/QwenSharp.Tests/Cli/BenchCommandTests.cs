using System.Text.Json.Nodes;
using QwenSharp.Tests.Clients;

namespace QwenSharp.Tests.Cli;

/// <summary>`qwensharp bench` as llama-bench prints it: one result per test and depth, in the markdown table, the CSV
/// and llama-bench's JSON fields; bad lists refused with the value named. (What the figures are worth is measured by
/// `bench/`, never here.)</summary>
public class BenchCommandTests
{
    [Fact]
    public void JsonHasOneObjectPerTestAndDepthWithLlamaBenchFields()
    {
        var (code, stdout, stderr) = GenerateCommandTests.Run("bench", "-m", ChatTestModel.Path, "-p", "16", "-n", "4",
            "-d", "0,24", "-r", "2", "-t", "2", "-o", "json");
        Assert.True(code == 0, stderr);
        var results = (JsonArray)JsonNode.Parse(stdout)!;
        Assert.Equal(4, results.Count);
        var keys = results.Select(r => ((int)r!["n_prompt"]!, (int)r!["n_gen"]!, (int)r!["n_depth"]!)).ToArray();
        Assert.Equal(new[] { (16, 0, 0), (0, 4, 0), (16, 0, 24), (0, 4, 24) }, keys);
        foreach (var r in results)
        {
            Assert.Equal(2, ((JsonArray)r!["samples_ts"]!).Count);
            Assert.Equal(2, ((JsonArray)r["samples_ns"]!).Count);
            Assert.True((double)r["avg_ts"]! > 0);
            Assert.Equal(2, (int)r["n_threads"]!);
        }
    }

    [Fact]
    public void MarkdownNamesTheDepthAndCsvCarriesIt()
    {
        var (code, stdout, stderr) = GenerateCommandTests.Run("bench", "-m", ChatTestModel.Path, "-p", "8", "-n", "0",
            "-d", "16", "-r", "1", "-t", "1");
        Assert.True(code == 0, stderr);
        Assert.Contains(" pp8 @ d16 |", stdout);
        Assert.Contains("Maximum concurrency for 24 tokens per request", stderr); // the plan for -d plus -p, before loading
        Assert.Contains("(KV budget from -d plus -p or -n)", stderr);
        (code, stdout, stderr) = GenerateCommandTests.Run("bench", "-m", ChatTestModel.Path, "-p", "0", "-n", "2",
            "-d", "8", "-r", "1", "-t", "1", "-o", "csv");
        Assert.True(code == 0, stderr);
        var lines = stdout.Trim().Split('\n');
        Assert.Contains("n_depth", lines[0]);
        Assert.Contains(",1,0,2,8,", lines[1]);
    }

    [Theory]
    [InlineData("-d", "-5", "-d takes non-negative token counts")]
    [InlineData("-d", "100000", "the model's context is")]
    public void BadDepthsAreRefusedWithTheValue(string flag, string value, string message)
    {
        var (code, _, stderr) = GenerateCommandTests.Run("bench", "-m", ChatTestModel.Path, "-p", "8", "-n", "0", flag, value, "-r", "1");
        Assert.NotEqual(0, code);
        Assert.Contains(message, stderr);
    }
}
