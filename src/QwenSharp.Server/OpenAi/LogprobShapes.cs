using QwenSharp.Server.Backend;

namespace QwenSharp.Server.OpenAi;

/// <summary>Backend logprobs → OpenAI's two shapes: chat's `content[]` entries and the legacy completions lists.</summary>
public static class LogprobShapes
{
    public static ChatTokenLogprob Chat(TokenLogprob lp) => new()
    {
        Token = lp.Token,
        Logprob = Finite(lp.Logprob),
        Bytes = Ints(lp.Bytes),
        TopLogprobs = lp.Top.Select(t => new ChatTopLogprob { Token = t.Token, Logprob = Finite(t.Logprob), Bytes = Ints(t.Bytes) }).ToList(),
    };

    /// <summary>Appends one token to the legacy shape; <paramref name="textOffset"/> is where its text starts in the choice's text.</summary>
    public static void AppendLegacy(CompletionLogprobs target, TokenLogprob lp, int textOffset)
    {
        target.Tokens.Add(lp.Token);
        target.TokenLogprobs.Add(Finite(lp.Logprob));
        target.TextOffset.Add(textOffset);
        var top = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var t in lp.Top) top.TryAdd(t.Token, Finite(t.Logprob)); // two ids may decode alike; the likelier one wins
        target.TopLogprobs.Add(top);
    }

    private static int[] Ints(byte[] bytes)
    {
        var ints = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) ints[i] = bytes[i];
        return ints;
    }

    // JSON has no -Infinity; vLLM clamps a -inf logprob to -9999.0 for the same reason.
    private static double Finite(double x) => double.IsFinite(x) ? x : -9999.0;
}
