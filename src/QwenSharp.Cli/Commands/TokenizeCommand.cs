using System.Text;
using System.Text.Json;
using QwenSharp.Text;

namespace QwenSharp.Cli.Commands;

/// <summary>`qwensharp tokenize`: text → ids with the model's own tokenizer, for checks and for datasets.</summary>
public sealed class TokenizeCommand : ICliCommand
{
    public string Name => "tokenize";
    public string Summary => "Print the token ids of a text (or of each {\"text\": …} line of a JSONL file)";
    public IReadOnlyList<string> Flags => ["--json", "--jsonl"];

    public string Usage => """
        usage: qwensharp tokenize --model <folder | tokenizer.json | model.gguf | hub name> [--file F | TEXT] [--json] [--jsonl]
          --model   the model: a folder (tokenizer.json, or vocab.json + merges.txt + tokenizer_config.json),
                    a GGUF file (its tokenizer.ggml.* metadata), or a name the Hub locator resolves
          --file    read the text from F (UTF-8); without --file and TEXT, read standard input
          --json    print a JSON array instead of space-separated ids
          --jsonl   F holds one JSON object {"text": "..."} per line; print one JSON array of ids per line
        """;

    public int Run(CliArgs args, TextWriter stdout, TextWriter stderr)
    {
        string model = args.Required("--model", "-m");
        string? file = args.Get("--file", "-f");
        bool json = args.Flag("--json");
        bool jsonl = args.Flag("--jsonl");
        var positional = args.Positional;
        args.EnsureAllUsed();
        if (file != null && positional.Count > 0)
            throw new CliException("Give the text either as TEXT or with --file, not both.");
        if (jsonl && file == null)
            throw new CliException("--jsonl reads the lines of --file; give --file.");
        if (file != null && !File.Exists(file))
            throw new CliException($"File {file} does not exist.");

        var tokenizer = TokenizerLoader.Load(ModelPaths.Resolve(model));
        if (jsonl)
        {
            WriteJsonLines(tokenizer, file!, stdout);
            return 0;
        }
        string text = file != null ? File.ReadAllText(file, Encoding.UTF8)
            : positional.Count > 0 ? string.Join(' ', positional)
            : Console.In.ReadToEnd();
        int[] ids = tokenizer.Encode(text);
        stdout.WriteLine(json ? JsonSerializer.Serialize(ids) : string.Join(' ', ids));
        return 0;
    }

    private static void WriteJsonLines(Qwen2Tokenizer tokenizer, string file, TextWriter stdout)
    {
        var ids = new List<int>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(file, Encoding.UTF8))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string text;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String)
                    throw new CliException($"{file} line {lineNumber}: expected an object with a string \"text\".");
                text = t.GetString()!;
            }
            catch (JsonException e)
            {
                throw new CliException($"{file} line {lineNumber} is not valid JSON: {e.Message}");
            }
            ids.Clear();
            tokenizer.Encode(text, ids);
            stdout.WriteLine(JsonSerializer.Serialize(ids));
        }
    }
}
