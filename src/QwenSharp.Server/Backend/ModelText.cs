using System.Text.Json;
using System.Text.Json.Nodes;
using QwenSharp.Text;
using QwenSharp.Text.Jinja;

namespace QwenSharp.Server.Backend;

/// <summary><see cref="IModelText"/> over the Text layer: the model's byte-level BPE tokenizer and its Jinja chat template.</summary>
public sealed class ModelText(Qwen2Tokenizer tokenizer, ChatTemplate template, IReadOnlyList<int> eosTokenIds) : IModelText
{
    public IReadOnlyList<int> EosTokenIds => eosTokenIds;

    public string RenderChat(string messagesJson, string? toolsJson, bool addGenerationPrompt,
        IReadOnlyDictionary<string, JsonElement>? extraVariables)
    {
        var messages = JsonNode.Parse(messagesJson)!.AsArray();
        var tools = toolsJson != null ? JsonNode.Parse(toolsJson)!.AsArray() : null;
        var variables = extraVariables?.ToDictionary(kv => kv.Key, kv => JsonNode.Parse(kv.Value.GetRawText()), StringComparer.Ordinal);
        try
        {
            return template.Render(messages, tools, addGenerationPrompt, variables);
        }
        catch (TemplateException e)
        {
            // raise_exception in a template is how models refuse a conversation (e.g. roles out of order).
            throw new RequestRejectedException($"The chat template refused the conversation: {e.Message}", "messages");
        }
        catch (ArgumentException e)
        {
            throw new RequestRejectedException(e.Message, "chat_template_kwargs");
        }
    }

    public int[] Encode(string text) => tokenizer.Encode(text);

    public string Decode(ReadOnlySpan<int> ids)
    {
        foreach (int id in ids)
            if (!tokenizer.IsKnown(id))
                throw new RequestRejectedException($"Token id {id} is not in the vocabulary of {tokenizer.VocabSize} tokens.", "tokens");
        return tokenizer.Decode(ids.ToArray());
    }

    public byte[] TokenBytes(int id) => tokenizer.IsKnown(id) ? tokenizer.TokenBytes(id).ToArray() : [];
}
