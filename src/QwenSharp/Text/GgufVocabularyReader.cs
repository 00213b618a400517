namespace QwenSharp.Text;

/// <summary>
/// Builds the tokenizer from a GGUF file's tokenizer.ggml.tokens / token_type / merges (llama.cpp's
/// convert_hf_to_gguf writes Qwen's vocab.json spellings, its added tokens' content, and merges as
/// "left right"). Token types follow llama.cpp's llama_token_type.
/// </summary>
internal static class GgufVocabularyReader
{
    private const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6;

    public static Qwen2Tokenizer Read(IReadOnlyList<string> tokens, IReadOnlyList<int> types, IReadOnlyList<string> merges)
    {
        if (types.Count != tokens.Count)
            throw new FormatException($"GGUF tokenizer: tokenizer.ggml.token_type has {types.Count} entries but tokenizer.ggml.tokens has {tokens.Count}.");
        var vocab = new VocabularyIndex(tokens.Count);
        Span<byte> buffer = stackalloc byte[1024];
        var added = new List<AddedToken>();
        for (int id = 0; id < tokens.Count; id++)
        {
            switch (types[id])
            {
                case Normal:
                    vocab.Add(VocabularyIndex.Encode(tokens[id], buffer), id);
                    break;
                case Control:
                    added.Add(new AddedToken(id, tokens[id], Special: true));
                    break;
                case UserDefined:
                    added.Add(new AddedToken(id, tokens[id], Special: false));
                    break;
                case Unused:
                    break; // padding rows ([PAD151646] …): never produced, decode to nothing
                case Unknown or Byte:
                    throw new FormatException($"GGUF tokenizer: token {id} '{tokens[id]}' has type {types[id]} ({(types[id] == Byte ? "byte" : "unknown")}), which byte-level BPE does not use; this is not a Qwen2 vocabulary.");
                default:
                    throw new FormatException($"GGUF tokenizer: token {id} '{tokens[id]}' has the unknown token type {types[id]} (expected 1 normal, 3 control, 4 user-defined or 5 unused).");
            }
        }
        var resolved = new (int, int, int)[merges.Count];
        for (int i = 0; i < merges.Count; i++)
            resolved[i] = MergeResolver.Resolve(vocab, merges[i], static at => $"GGUF tokenizer.ggml.merges[{at}]", i);
        return new Qwen2Tokenizer(vocab, resolved, added, "GGUF tokenizer");
    }
}
