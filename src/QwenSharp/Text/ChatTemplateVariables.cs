using QwenSharp.Text.Jinja;

namespace QwenSharp.Text;

public sealed partial class ChatTemplate
{
    /// <summary>
    /// Whether the template that renders a conversation (with tools: "tool_use" when the model has it, as
    /// Hugging Face chooses; else "default") names the variable <paramref name="name"/> anywhere in its code:
    /// a bare name, not an attribute (<c>message.tools</c>), a string or the literal text. A template that
    /// never names <c>tools</c> drops tool definitions silently.
    /// </summary>
    public bool ReadsVariable(string name, bool hasTools = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var tokens = Lexer.Tokenize(Select(hasTools).Source);
        for (int i = 0; i < tokens.Count; i++)
        {
            if (tokens[i].IsName(name) && !(i > 0 && tokens[i - 1].IsOperator("."))) return true;
        }
        return false;
    }
}
