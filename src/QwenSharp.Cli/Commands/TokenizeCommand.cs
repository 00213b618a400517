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
          --jsonl   F holds one JSON object {"text": "..."} per line; print one JSON array of ids per line.
                    A line that is not such an object prints null (so output lines match input lines), is
                    named on stderr, and makes the exit code 1 once the whole file is done; a lone surrogate
                    escape such as "\ud800" is read as U+FFFD, with a warning on stderr
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
        if (jsonl) return WriteJsonLines(tokenizer, file!, stdout, stderr) == 0 ? 0 : 1;
        string text = file != null ? File.ReadAllText(file, Encoding.UTF8)
            : positional.Count > 0 ? string.Join(' ', positional)
            : Console.In.ReadToEnd();
        int[] ids = tokenizer.Encode(text);
        stdout.WriteLine(json ? JsonSerializer.Serialize(ids) : string.Join(' ', ids));
        return 0;
    }

    /// <summary>Tokenizes each line's "text"; returns the number of lines that were not {"text": "..."}.</summary>
    private static int WriteJsonLines(Qwen2Tokenizer tokenizer, string file, TextWriter stdout, TextWriter stderr)
    {
        var ids = new List<int>();
        int lineNumber = 0, bad = 0;
        foreach (string line in File.ReadLines(file, Encoding.UTF8))
        {
            lineNumber++;
            string? text = ReadText(line, out string? problem, out int replaced);
            if (text == null)
            {
                bad++;
                stdout.WriteLine("null");
                stderr.WriteLine($"{file} line {lineNumber}: {problem}; printed null in its place.");
                continue;
            }
            if (replaced > 0)
                stderr.WriteLine($"{file} line {lineNumber}: lone surrogate replaced with U+FFFD{(replaced > 1 ? $" ({replaced} of them)" : "")}.");
            ids.Clear();
            tokenizer.Encode(text, ids);
            stdout.WriteLine(JsonSerializer.Serialize(ids));
        }
        return bad;
    }

    /// <summary>The string "text" of a line's JSON object, or null with the <paramref name="problem"/>.
    /// <paramref name="replaced"/> counts lone surrogate escapes read as U+FFFD.</summary>
    private static string? ReadText(string line, out string? problem, out int replaced)
    {
        replaced = 0;
        problem = null;
        if (string.IsNullOrWhiteSpace(line)) { problem = "empty line, expected {\"text\": \"...\"}"; return null; }
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) { problem = $"expected a JSON object {{\"text\": \"...\"}}, got {Kind(root)}"; return null; }
            if (!root.TryGetProperty("text", out var t)) { problem = "the object has no \"text\" member"; return null; }
            if (t.ValueKind != JsonValueKind.String) { problem = $"\"text\" is {Kind(t)}, not a string"; return null; }
            try
            {
                return t.GetString()!;
            }
            catch (InvalidOperationException)
            {
                // .NET will not read a string with a lone surrogate escape ("\ud800"); the tokenizer's own
                // rule for lone surrogates is U+FFFD, applied here so it can be reported.
                return JsonStringWithLoneSurrogatesReplaced(t.GetRawText(), out replaced);
            }
        }
        catch (JsonException e)
        {
            problem = $"not valid JSON ({e.Message})";
            return null;
        }
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "an object",
    };

    /// <summary>Decodes a JSON string literal that JsonDocument has already checked (quotes, escapes), turning
    /// each \uXXXX that is an unpaired surrogate into U+FFFD.</summary>
    private static string JsonStringWithLoneSurrogatesReplaced(string literal, out int replaced)
    {
        var units = new StringBuilder(literal.Length);
        for (int i = 1; i < literal.Length - 1; i++)
        {
            char c = literal[i];
            if (c != '\\') { units.Append(c); continue; }
            char e = literal[++i];
            if (e == 'u')
            {
                units.Append((char)Convert.ToUInt16(literal.Substring(i + 1, 4), 16));
                i += 4;
                continue;
            }
            units.Append(e switch { 'b' => '\b', 'f' => '\f', 'n' => '\n', 'r' => '\r', 't' => '\t', _ => e });
        }
        replaced = 0;
        for (int i = 0; i < units.Length; i++)
        {
            if (!char.IsSurrogate(units[i])) continue;
            if (char.IsHighSurrogate(units[i]) && i + 1 < units.Length && char.IsLowSurrogate(units[i + 1])) { i++; continue; }
            units[i] = '\uFFFD';
            replaced++;
        }
        return units.ToString();
    }
}
