using System.Text.Json;

namespace QwenSharp.Server.Backend;

/// <summary>
/// The text side of a served model, as <see cref="EngineBackend"/> needs it: the chat template, the tokenizer,
/// and each token's bytes (for logprobs). Implemented over the Text layer (byte-level BPE tokenizer and the
/// Jinja chat template); tests use a byte tokenizer.
/// </summary>
public interface IModelText
{
    /// <summary>See <see cref="IModelBackend.RenderChat"/>.</summary>
    string RenderChat(string messagesJson, string? toolsJson, bool addGenerationPrompt,
        IReadOnlyDictionary<string, JsonElement>? extraVariables);

    /// <summary>Text to ids, special-token text recognised.</summary>
    int[] Encode(string text);

    /// <summary>Ids to text with special tokens kept; throws <see cref="RequestRejectedException"/> for an id outside the vocabulary.</summary>
    string Decode(ReadOnlySpan<int> ids);

    /// <summary>The bytes a token stands for (its UTF-8 piece; a special token's text).</summary>
    byte[] TokenBytes(int id);

    /// <summary>End-of-sequence ids to use when generation_config.json names none (the tokenizer's eos).</summary>
    IReadOnlyList<int> EosTokenIds { get; }
}
