using System.Text.Json;
using System.Text.Json.Nodes;

namespace QwenSharp.Text;

/// <summary>Where a model keeps its chat template, read the way transformers' tokenizer loading reads it.</summary>
public sealed partial class ChatTemplate
{
    /// <summary>
    /// The chat template of a Hugging Face model folder: <c>chat_template.jinja</c> when present (newer
    /// checkpoints; it wins over the config, as in transformers), else <c>tokenizer_config.json</c>'s
    /// <c>chat_template</c>, a string or a list of <c>{name, template}</c>; plus any
    /// <c>additional_chat_templates/*.jinja</c>. bos_token and eos_token come from tokenizer_config.json,
    /// as strings or <c>{"content": …}</c> objects.
    /// </summary>
    /// <exception cref="FileNotFoundException">the folder has no chat template</exception>
    /// <exception cref="InvalidDataException">tokenizer_config.json is malformed</exception>
    /// <exception cref="Jinja.TemplateException">the template does not parse or nests too deeply</exception>
    public static ChatTemplate FromModelFolder(string dir, Jinja.TemplateLimits? limits = null)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"Model folder {dir} does not exist.");
        string configPath = Path.Combine(dir, "tokenizer_config.json");
        JsonObject? config = ReadConfig(configPath);
        string? bos = TokenText(config, "bos_token", configPath), eos = TokenText(config, "eos_token", configPath);

        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        string origin = configPath;
        switch (config?["chat_template"])
        {
            case null: break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                sources["default"] = v.GetValue<string>();
                break;
            case JsonArray list:
                foreach (var item in list)
                {
                    if (item is not JsonObject entry || entry["name"] is not JsonValue name || entry["template"] is not JsonValue template
                        || name.GetValueKind() != JsonValueKind.String || template.GetValueKind() != JsonValueKind.String)
                        throw new InvalidDataException($"{configPath}: each chat_template entry must be {{\"name\": …, \"template\": …}} with strings.");
                    sources[name.GetValue<string>()] = template.GetValue<string>();
                }
                break;
            default:
                throw new InvalidDataException($"{configPath}: chat_template must be a string or a list of {{name, template}}.");
        }
        string extraDir = Path.Combine(dir, "additional_chat_templates");
        if (Directory.Exists(extraDir))
            foreach (var file in Directory.GetFiles(extraDir, "*.jinja").Order(StringComparer.Ordinal))
                sources[Path.GetFileNameWithoutExtension(file)] = File.ReadAllText(file);
        string jinjaPath = Path.Combine(dir, "chat_template.jinja");
        if (File.Exists(jinjaPath))
        {
            sources["default"] = File.ReadAllText(jinjaPath);
            origin = jinjaPath;
        }
        if (sources.Count == 0)
            throw new FileNotFoundException(
                $"Model folder {dir} has no chat template: neither chat_template.jinja nor a chat_template entry in tokenizer_config.json.");
        if (sources.Count == 1 && sources.TryGetValue("default", out var only)) return Parse(only, origin, bos, eos, limits);
        return ParseNamed(sources, origin, bos, eos, limits);
    }

    /// <summary>
    /// The chat template of a model: a folder's (tokenizer_config.json or chat_template.jinja), or a GGUF file's
    /// metadata <c>tokenizer.chat_template</c> with its bos/eos token texts from the vocabulary.
    /// </summary>
    public static ChatTemplate FromModel(string path, Jinja.TemplateLimits? limits = null)
    {
        if (Directory.Exists(path)) return FromModelFolder(path, limits);
        if (Formats.GgufProbe.IsGguf(path))
        {
            using var gguf = Formats.GgufFile.Open(path);
            return FromGguf(gguf, limits);
        }
        throw new FileNotFoundException($"Model {path} is neither a folder nor a GGUF file.");
    }

    public static ChatTemplate FromGguf(Formats.GgufFile gguf, Jinja.TemplateLimits? limits = null)
    {
        var (bos, eos) = ReadSpecialTokens(gguf);
        if (!gguf.Metadata.TryGetString(Formats.GgufNames.Keys.ChatTemplate, out var source))
            throw new FileNotFoundException($"GGUF file {gguf.Path} has no chat template (metadata tokenizer.chat_template).");
        return Parse(source, gguf.Path + ":tokenizer.chat_template", bos, eos, limits);
    }

    /// <summary>The texts of a GGUF file's bos and eos tokens (null when absent).</summary>
    public static (string? BosToken, string? EosToken) ReadSpecialTokens(Formats.GgufFile gguf)
    {
        var m = gguf.Metadata;
        if (!m.TryGetArray(Formats.GgufNames.Keys.Tokens, out var array) || array.Items is not string[] tokens) return (null, null);
        string? Text(string key) => m.TryGetUInt32(key, out uint id) && id < tokens.Length ? tokens[id] : null;
        return (Text(Formats.GgufNames.Keys.BosTokenId), Text(Formats.GgufNames.Keys.EosTokenId));
    }

    /// <summary>bos_token and eos_token of a model folder's tokenizer_config.json (null when absent), for
    /// rendering a template that comes from elsewhere.</summary>
    public static (string? BosToken, string? EosToken) ReadSpecialTokens(string modelFolder)
    {
        string configPath = Path.Combine(modelFolder, "tokenizer_config.json");
        var config = ReadConfig(configPath);
        return (TokenText(config, "bos_token", configPath), TokenText(config, "eos_token", configPath));
    }

    private static JsonObject? ReadConfig(string configPath)
    {
        if (!File.Exists(configPath)) return null;
        try
        {
            return JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject
                   ?? throw new InvalidDataException($"{configPath} is not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{configPath} is not valid JSON (line {e.LineNumber + 1}): {e.Message}");
        }
    }

    private static string? TokenText(JsonObject? config, string key, string configPath) => config?[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonObject o when o["content"] is JsonValue c && c.GetValueKind() == JsonValueKind.String => c.GetValue<string>(),
        _ => throw new InvalidDataException($"{configPath}: {key} must be a string or an object with \"content\"."),
    };
}
