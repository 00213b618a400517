using System.Text.Json;
using QwenSharp.Tests.Text;
using QwenSharp.Text;

namespace QwenSharp.Tests.Cli;

/// <summary>`qwensharp tokenize --jsonl` on imperfect files (issue 14, point 8): lone surrogate escapes are read as
/// U+FFFD with a warning, a line that is not {"text": …} prints null and is named on stderr, the rest is
/// still tokenized, output stays line-aligned with input, and the exit code says whether any line was bad.</summary>
public sealed class TokenizeJsonlTests
{
    private static HfTokenizer Hf => HfTokenizer.Load(Fixtures.Path("qwen2-tokenizer/tokenizer.json"));

    private static (int Code, string[] Lines, string[] Errors) RunJsonl(string fileText)
    {
        using var dir = Fixtures.TempDir();
        File.WriteAllText(dir.File("data.jsonl"), fileText);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = QwenSharp.Cli.CliApp.Run(["tokenize", "--model", Fixtures.TokenizerFolder, "--file", dir.File("data.jsonl"), "--jsonl"], stdout, stderr);
        string Strip(string s) => s.EndsWith(Environment.NewLine, StringComparison.Ordinal) ? s[..^Environment.NewLine.Length] : s;
        string err = Strip(stderr.ToString());
        return (code, Strip(stdout.ToString()).Split(Environment.NewLine), err.Length == 0 ? [] : err.Split(Environment.NewLine));
    }

    /// <summary>Both the reference (HF tokenizers, which takes only valid Unicode) and our tokenizer on the text
    /// with U+FFFD written in place of each lone surrogate.</summary>
    private static void AssertIdsOf(string expectedText, string line)
    {
        int[] ids = JsonSerializer.Deserialize<int[]>(line)!;
        Assert.Equal(Hf.Encode(expectedText), ids);
        Assert.Equal(TokenizerLoader.Load(Fixtures.TokenizerFolder).Encode(expectedText), ids);
    }

    [Fact]
    public void LoneSurrogateEscapes_AreReadAsReplacementCharacters_WithAWarningNamingTheLine()
    {
        string[] input =
        [
            """{"text": "a\ud800b"}""",
            """{"text": "\udc00 x \ud83d\ude00 \ud83d"}""",
            """{"text": "tab\there \"q\" \\ud800 \/ \u00e9 \ud800 end\n"}""",
            """{"text": "fine"}""",
            """{"text": "\ud800\ud800", "other": "\udfff"}""",
        ];
        string[] expected =
        [
            "a\uFFFDb",
            "\uFFFD x 😀 \uFFFD",
            "tab\there \"q\" \\ud800 / é \uFFFD end\n",
            "fine",
            "\uFFFD\uFFFD",
        ];

        var (code, lines, errors) = RunJsonl(string.Join("\n", input) + "\n");

        Assert.Equal(0, code);
        Assert.Equal(input.Length, lines.Length);
        for (int i = 0; i < input.Length; i++) AssertIdsOf(expected[i], lines[i]);
        Assert.Equal(4, errors.Length);
        Assert.EndsWith("line 1: lone surrogate replaced with U+FFFD.", errors[0]);
        Assert.EndsWith("line 2: lone surrogate replaced with U+FFFD (2 of them).", errors[1]);
        Assert.EndsWith("line 3: lone surrogate replaced with U+FFFD.", errors[2]);
        Assert.EndsWith("line 5: lone surrogate replaced with U+FFFD (2 of them).", errors[3]);
    }

    [Fact]
    public void BadLines_PrintNull_AreNamedOnStderr_TheRestIsTokenized_AndTheExitCodeIsOne()
    {
        string[] input =
        [
            """{"text": "first"}""",
            """not json""",
            """[1, 2]""",
            """{"txt": "x"}""",
            """{"text": 5}""",
            "",
            """{"text": "last \ud800"}""",
            """{"text": "after"}""",
        ];

        var (code, lines, errors) = RunJsonl(string.Join("\n", input) + "\n");

        Assert.Equal(1, code);
        Assert.Equal(input.Length, lines.Length);
        AssertIdsOf("first", lines[0]);
        Assert.Equal(["null", "null", "null", "null", "null"], lines[1..6]);
        AssertIdsOf("last \uFFFD", lines[6]);
        AssertIdsOf("after", lines[7]);
        Assert.Equal(6, errors.Length);
        Assert.Contains("line 2: not valid JSON", errors[0]);
        Assert.Contains("line 3: expected a JSON object {\"text\": \"...\"}, got an array", errors[1]);
        Assert.Contains("line 4: the object has no \"text\" member", errors[2]);
        Assert.Contains("line 5: \"text\" is a number, not a string", errors[3]);
        Assert.Contains("line 6: empty line", errors[4]);
        Assert.All(errors[..5], e => Assert.EndsWith("printed null in its place.", e));
        Assert.EndsWith("line 7: lone surrogate replaced with U+FFFD.", errors[5]);
    }
}
