using System.Text.Json;
using System.Text.Json.Nodes;
using QwenSharp.Text;

namespace QwenSharp.Cli.Commands;

/// <summary>
/// `qwensharp prompt`: prints the prompt a conversation becomes under the model's chat template, exactly
/// as Hugging Face's apply_chat_template(..., tokenize=False) returns it, with no newline added, so the
/// output can be diffed against Python or piped into `qwensharp tokenize`.
/// </summary>
public sealed class PromptCommand : ICliCommand
{
    public string Name => "prompt";
    public string Summary => "Render a conversation with the model's chat template (as Hugging Face does)";
    public IReadOnlyList<string> Flags => ["--no-generation-prompt"];

    public string Usage => """
        qwensharp prompt --model <dir> --messages <file.json> [--tools <file.json>] [--chat-template <file.jinja>]
                         [--no-generation-prompt] [--var name=value]...

          --model                 a Hugging Face model folder (chat_template.jinja or tokenizer_config.json)
          --messages              a JSON array of messages, or an object with "messages" (and "tools")
          --tools                 a JSON array of tool definitions
          --chat-template         use this template instead of the model's (bos/eos still come from the model)
          --no-generation-prompt  leave out the assistant turn opener (add_generation_prompt=False)
          --var name=value        an extra template variable; the value is read as JSON when it parses
                                  (enable_thinking=false is a boolean), else taken as a string
        """;

    public int Run(CliArgs args, TextWriter stdout, TextWriter stderr)
    {
        string model = args.Required("--model");
        string messagesPath = args.Required("--messages");
        string? toolsPath = args.Get("--tools");
        string? templatePath = args.Get("--chat-template");
        bool generationPrompt = !args.Flag("--no-generation-prompt");
        var variables = ParseVariables(args.GetAll("--var"));
        args.EnsureAllUsed();

        JsonArray messages;
        JsonArray? tools = null;
        switch (ReadJson(messagesPath, "--messages"))
        {
            case JsonArray array:
                messages = array;
                break;
            case JsonObject { } request when request["messages"] is JsonArray inner:
                messages = inner;
                tools = request["tools"] as JsonArray;
                break;
            default:
                throw new CliException($"{messagesPath} must hold a JSON array of messages or an object with a \"messages\" array.");
        }
        if (toolsPath != null)
            tools = ReadJson(toolsPath, "--tools") as JsonArray ?? throw new CliException($"{toolsPath} must hold a JSON array of tools.");

        var template = LoadTemplate(model, templatePath);
        stdout.Write(template.Render(messages, tools, generationPrompt, variables));
        return 0;
    }

    private static ChatTemplate LoadTemplate(string model, string? templatePath)
    {
        model = ModelPaths.Resolve(model);
        if (templatePath == null) return ChatTemplate.FromModel(model);
        if (!File.Exists(templatePath)) throw new CliException($"Chat template file {templatePath} does not exist.");
        (string? bos, string? eos) = QwenSharp.Formats.GgufProbe.IsGguf(model)
            ? ReadGgufSpecialTokens(model)
            : ChatTemplate.ReadSpecialTokens(model);
        return ChatTemplate.Parse(File.ReadAllText(templatePath), templatePath, bos, eos);
    }

    private static (string?, string?) ReadGgufSpecialTokens(string path)
    {
        using var gguf = QwenSharp.Formats.GgufFile.Open(path);
        return ChatTemplate.ReadSpecialTokens(gguf);
    }

    private static JsonNode? ReadJson(string path, string option)
    {
        if (!File.Exists(path)) throw new CliException($"The {option} file {path} does not exist.");
        try
        {
            return JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new CliException($"The {option} file {path} is not valid JSON (line {e.LineNumber + 1}): {e.Message}");
        }
    }

    /// <summary>name=value pairs; the value is JSON when it parses (false, 3, {"a": 1}, "quoted"), else the raw text.</summary>
    internal static Dictionary<string, JsonNode?> ParseVariables(IReadOnlyList<string> pairs)
    {
        var variables = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (string pair in pairs)
        {
            int eq = pair.IndexOf('=');
            string name = eq > 0 ? pair[..eq] : "";
            if (name.Length == 0 || !(char.IsLetter(name[0]) || name[0] == '_') || !name.All(c => char.IsLetterOrDigit(c) || c == '_'))
                throw new CliException($"--var needs name=value with a template variable name, got '{pair}'.");
            if (name is "messages" or "tools" or "add_generation_prompt")
                throw new CliException($"--var cannot set '{name}'; use --messages, --tools or --no-generation-prompt.");
            string text = pair[(eq + 1)..];
            JsonNode? value;
            try
            {
                value = JsonNode.Parse(text);
            }
            catch (JsonException)
            {
                value = JsonValue.Create(text);
            }
            variables[name] = value;
        }
        return variables;
    }
}
