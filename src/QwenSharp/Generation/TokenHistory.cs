using System.Runtime.InteropServices;

namespace QwenSharp.Generation;

/// <summary>
/// The tokens of one sequence, prompt then output, with the tallies the penalties read: the distinct ids of
/// prompt and output (repetition penalty, as HF and vLLM) and each output id's count (presence and frequency
/// penalties, as vLLM and OpenAI). Kept incrementally so that a step costs the number of distinct ids, not the length.
/// </summary>
public sealed class TokenHistory
{
    private readonly List<int> _tokens;
    private readonly HashSet<int> _seen = [];
    private readonly Dictionary<int, int> _outputCounts = [];

    public TokenHistory(ReadOnlySpan<int> promptTokenIds)
    {
        _tokens = new List<int>(promptTokenIds.Length + 64);
        foreach (int id in promptTokenIds)
        {
            _tokens.Add(id);
            _seen.Add(id);
        }
        PromptLength = promptTokenIds.Length;
    }

    public int PromptLength { get; }
    public int OutputLength => _tokens.Count - PromptLength;
    /// <summary>Prompt and output ids in order.</summary>
    public ReadOnlySpan<int> All => CollectionsMarshal.AsSpan(_tokens);
    public ReadOnlySpan<int> Output => All[PromptLength..];
    /// <summary>Distinct ids of prompt and output.</summary>
    public IReadOnlySet<int> Seen => _seen;
    /// <summary>How often each id occurs in the output.</summary>
    public IReadOnlyDictionary<int, int> OutputCounts => _outputCounts;

    /// <summary>Distinct ids of prompt and output, enumerated without allocating.</summary>
    internal HashSet<int>.Enumerator SeenEnumerator() => _seen.GetEnumerator();
    internal Dictionary<int, int>.Enumerator OutputCountsEnumerator() => _outputCounts.GetEnumerator();

    public void Append(int tokenId)
    {
        _tokens.Add(tokenId);
        _seen.Add(tokenId);
        CollectionsMarshal.GetValueRefOrAddDefault(_outputCounts, tokenId, out _)++;
    }
}
