using System.Security.Cryptography;

namespace QwenSharp.Text.ToolCalls;

/// <summary>
/// One function call the assistant made, in OpenAI's shape (<c>{"id", "type": "function", "function":
/// {"name", "arguments"}}</c>). <see cref="Arguments"/> is JSON text as vLLM's hermes parser writes it:
/// <c>json.dumps(arguments, ensure_ascii=False)</c>, i.e. with ", " and ": " separators.
/// </summary>
public sealed record ToolCall(string Id, string Name, string Arguments)
{
    /// <summary>Always "function": the only kind of tool OpenAI's chat API defines.</summary>
    public string Type => "function";

    private const string Alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>A fresh call id: "call_" and 24 random letters and digits, as OpenAI's ids look.</summary>
    public static string NewId() => "call_" + new string(RandomNumberGenerator.GetItems<char>(Alphanumerics, 24));
}
