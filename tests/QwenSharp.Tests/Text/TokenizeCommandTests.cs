using System.Text.Json;

namespace QwenSharp.Tests.Text;

/// <summary>`qwensharp tokenize` end to end through CliApp.Run, its ids checked against HF tokenizers.</summary>
public sealed class TokenizeCommandTests
{
    private static HfTokenizer Hf => HfTokenizer.Load(Fixtures.Path("qwen2-tokenizer/tokenizer.json"));

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = QwenSharp.Cli.CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Prints_the_ids_space_separated_or_as_json()
    {
        const string text = "Hello 你好 <|im_start|>user\n  x";
        var (code, stdout, stderr) = Run("tokenize", "--model", Fixtures.TokenizerFolder, text);
        Assert.Equal("", stderr);
        Assert.Equal(0, code);
        Assert.Equal(string.Join(' ', Hf.Encode(text)) + Environment.NewLine, stdout);

        (code, stdout, _) = Run("tokenize", "--model", Fixtures.Path("qwen2-tokenizer/tokenizer.json"), "--json", text);
        Assert.Equal(0, code);
        Assert.Equal(Hf.Encode(text), JsonSerializer.Deserialize<int[]>(stdout));
    }

    [Fact]
    public void Jsonl_gives_one_array_per_line()
    {
        using var dir = Fixtures.TempDir();
        string[] texts = ["first line", "第二行 😀", "", "<|endoftext|>"];
        File.WriteAllLines(dir.File("data.jsonl"), texts.Select(t => JsonSerializer.Serialize(new { text = t })));
        var (code, stdout, stderr) = Run("tokenize", "--model", Fixtures.TokenizerFolder, "--file", dir.File("data.jsonl"), "--jsonl");
        Assert.Equal("", stderr);
        Assert.Equal(0, code);
        var lines = stdout.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(texts.Length, lines.Length);
        for (int i = 0; i < texts.Length; i++) Assert.Equal(Hf.Encode(texts[i]), JsonSerializer.Deserialize<int[]>(lines[i]));
    }

    [Fact]
    public void Bad_input_is_one_line_naming_the_place()
    {
        using var dir = Fixtures.TempDir();
        File.WriteAllText(dir.File("data.jsonl"), "{\"text\": \"ok\"}\n{\"txt\": 1}\n");
        var (code, _, stderr) = Run("tokenize", "--model", Fixtures.TokenizerFolder, "--file", dir.File("data.jsonl"), "--jsonl");
        Assert.Equal(1, code);
        Assert.Contains("line 2", stderr);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));

        File.WriteAllBytes(dir.File("m.gguf"), [0x47, 0x47, 0x55, 0x46]);
        (code, _, stderr) = Run("tokenize", "--model", dir.File("m.gguf"), "hi");
        Assert.Equal(1, code);
        Assert.Contains("m.gguf", stderr);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));
    }
}
