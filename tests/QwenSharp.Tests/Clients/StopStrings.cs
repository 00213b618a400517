using QwenSharp.Engine;
using QwenSharp.Generation;

namespace QwenSharp.Tests.Clients;

/// <summary>Finds, in a greedy reply, a stop string that begins in one token's text and ends in the next's.</summary>
public static class StopStrings
{
    /// <summary>
    /// Generates <paramref name="count"/> greedy tokens (eos ignored) after <paramref name="prompt"/> and returns a
    /// 4-character string straddling a token boundary (2 characters each side, all whole characters) together
    /// with the reply's full text.
    /// </summary>
    public static (string Stop, string Text) AcrossBoundary(LoadedModel model, int[] prompt, int count)
    {
        var p = new SamplingParams { Temperature = 0, MaxTokens = count, IgnoreEos = true };
        GenerationResult? result = null;
        foreach (var e in model.GenerateAsync(prompt, model.Resolve(p, prompt.Length)).ToBlockingEnumerable())
            result = e.Result ?? result;
        string text = result!.Text;
        var ids = result.TokenIds;
        // Boundaries from the middle outwards, so the string is not at the very start.
        foreach (int k in Enumerable.Range(1, ids.Count - 1).OrderBy(k => Math.Abs(k - ids.Count / 2)))
        {
            string before = model.Tokenizer.Decode(ids.Take(k).ToArray(), skipSpecialTokens: true);
            string through = model.Tokenizer.Decode(ids.Take(k + 1).ToArray(), skipSpecialTokens: true);
            int b = before.Length;
            if (!text.StartsWith(before, StringComparison.Ordinal) || b < 2 || b + 2 > text.Length || through.Length < b + 2) continue;
            string stop = text.Substring(b - 2, 4);
            if (stop.Any(c => c == '\uFFFD' || char.IsSurrogate(c))) continue;
            // The first occurrence must be this one, so the string really straddles tokens where it first matches.
            if (text.IndexOf(stop, StringComparison.Ordinal) != b - 2) continue;
            return (stop, text);
        }
        throw new InvalidOperationException($"No clean token boundary in the reply '{text}'.");
    }
}
