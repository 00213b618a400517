namespace QwenSharp.Generation;

/// <summary>
/// Finds stop strings in streamed text without ever letting one out. Text arrives in pieces (one per token);
/// the longest tail that could still be the start of a stop string is held back until the next piece shows
/// whether it is one. Everything before the tail can be emitted: no stop string starts there (it was searched)
/// and none can start there later (the tail is the longest suffix that is a stop string's beginning).
/// With several stop strings in view, the one that starts first wins (vLLM checks them in list order; taking
/// the earliest is what keeps every stop string out of the output).
/// </summary>
public sealed class StopStringMatcher
{
    private readonly string[] _stops;
    private readonly bool _includeStop;
    private readonly int _longestStop;
    private string _held = "";

    public StopStringMatcher(IReadOnlyList<string> stops, bool includeStopInOutput)
    {
        _stops = [.. stops];
        _includeStop = includeStopInOutput;
        foreach (var s in _stops) _longestStop = Math.Max(_longestStop, s.Length);
    }

    /// <summary>The stop string that matched, once one has.</summary>
    public string? Matched { get; private set; }

    /// <summary>Text received but not yet emitted, because it may begin a stop string.</summary>
    public string Held => _held;

    /// <summary>
    /// Adds <paramref name="text"/> and returns the text now safe to emit. When a stop string completes, returns
    /// the text before it (and the stop string itself with include_stop_str_in_output) and sets <see cref="Matched"/>.
    /// With <paramref name="detect"/> false (vLLM's min_tokens not yet reached) stop strings are not looked for,
    /// but a tail that may begin one is still held, so one that straddles the min_tokens boundary is caught.
    /// </summary>
    public string Push(string text, bool detect = true)
    {
        if (Matched is not null) throw new InvalidOperationException("A stop string already matched; the sequence is finished.");
        if (_stops.Length == 0) return text;
        string pending = _held.Length == 0 ? text : _held + text;

        if (detect)
        {
            int bestAt = -1;
            string? best = null;
            foreach (var stop in _stops)
            {
                int at = pending.IndexOf(stop, StringComparison.Ordinal);
                if (at >= 0 && (bestAt < 0 || at < bestAt)) (bestAt, best) = (at, stop);
            }
            if (best is not null)
            {
                Matched = best;
                _held = "";
                return pending[..(_includeStop ? bestAt + best.Length : bestAt)];
            }
        }

        int keep = HeldTailLength(pending);
        _held = pending[^keep..];
        return pending[..^keep];
    }

    /// <summary>At the end of the sequence: the held text, which can no longer become a stop string.</summary>
    public string Flush()
    {
        string rest = _held;
        _held = "";
        return rest;
    }

    /// <summary>Length of the longest suffix of <paramref name="text"/> that is a proper prefix of some stop string.</summary>
    private int HeldTailLength(string text)
    {
        for (int length = Math.Min(text.Length, _longestStop - 1); length > 0; length--)
        {
            var tail = text.AsSpan(text.Length - length);
            foreach (var stop in _stops)
                if (stop.Length > length && stop.AsSpan().StartsWith(tail, StringComparison.Ordinal)) return length;
        }
        return 0;
    }
}
