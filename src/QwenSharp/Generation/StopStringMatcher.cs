namespace QwenSharp.Generation;

/// <summary>
/// Finds stop strings in streamed text without ever letting one out. Text arrives in pieces (one per token);
/// the longest tail that could still be the start of a stop string is held back until the next piece shows
/// whether it is one. Everything before the tail can be emitted: no stop string starts there (it was searched)
/// and none can start there later (the tail is the longest suffix that is a stop string's beginning).
/// With several stop strings in view, the one that starts first wins (vLLM checks them in list order; taking
/// the earliest is what keeps every stop string out of the output); of two starting at the same place, the
/// first listed.
/// </summary>
/// <remarks>
/// Each stop string keeps a Knuth–Morris–Pratt state: how much of its beginning the text seen so far ends with.
/// A new character moves every state in amortized constant time, so a piece costs O(stops × characters) however
/// long the stop strings are; the held tail is the longest state. (Searching the held text again with every
/// piece cost up to stops × length² per token: a request with 64 stops of 1,000 bytes stalled every stream.)
/// </remarks>
public sealed class StopStringMatcher
{
    private readonly string[] _stops;
    private readonly int[][] _fallback; // per stop: KMP failure function (longest proper border of each prefix)
    private readonly int[] _state;      // per stop: length of its prefix the text ends with (always < its length)
    private readonly bool _includeStop;
    private readonly int _longestStop;
    private readonly List<(int At, int Stop)> _passed = new(); // completed while not detecting, still inside the held text
    private string _held = "";

    public StopStringMatcher(IReadOnlyList<string> stops, bool includeStopInOutput)
    {
        _stops = [.. stops];
        _includeStop = includeStopInOutput;
        _fallback = new int[_stops.Length][];
        _state = new int[_stops.Length];
        for (int s = 0; s < _stops.Length; s++)
        {
            if (_stops[s].Length == 0) throw new ArgumentException("Stop strings must not be empty.", nameof(stops));
            _fallback[s] = Borders(_stops[s]);
            _longestStop = Math.Max(_longestStop, _stops[s].Length);
        }
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
        int offset = _held.Length; // text[i] is pending[offset + i]
        int bestAt = int.MaxValue, best = -1;
        // A stop passed while detection was off and still held (it is inside a longer stop's beginning) counts now,
        // as it did when the held text was searched again; vLLM's search window reaches back over it too.
        if (detect)
            foreach (var (at, stop) in _passed)
                if (at < bestAt || (at == bestAt && stop < best)) (bestAt, best) = (at, stop);
        for (int i = 0; i < text.Length; i++)
        {
            // A stop completing from here on starts at offset + i + 1 - its length or later: none can beat the best.
            if (best >= 0 && offset + i + 1 - _longestStop > bestAt) break;
            char c = text[i];
            for (int s = 0; s < _stops.Length; s++)
            {
                string stop = _stops[s];
                int k = _state[s];
                while (k > 0 && stop[k] != c) k = _fallback[s][k - 1];
                if (stop[k] == c) k++;
                if (k == stop.Length)
                {
                    int at = offset + i + 1 - k;
                    if (!detect) _passed.Add((at, s));
                    else if (at < bestAt || (at == bestAt && s < best)) (bestAt, best) = (at, s);
                    k = _fallback[s][k - 1]; // without detection the text goes on past it
                }
                _state[s] = k;
            }
        }

        string pending = _held.Length == 0 ? text : _held + text;
        if (best >= 0)
        {
            Matched = _stops[best];
            _held = "";
            return pending[..(_includeStop ? bestAt + Matched.Length : bestAt)];
        }
        int keep = 0;
        foreach (int k in _state) keep = Math.Max(keep, k);
        _held = pending[^keep..];
        // Positions move to the new held text; passed stops that left it were emitted and no longer count.
        int cut = pending.Length - keep;
        _passed.RemoveAll(p => p.At < cut);
        for (int i = 0; i < _passed.Count; i++) _passed[i] = (_passed[i].At - cut, _passed[i].Stop);
        return pending[..^keep];
    }

    /// <summary>At the end of the sequence: the held text, which can no longer become a stop string.</summary>
    public string Flush()
    {
        string rest = _held;
        _held = "";
        Array.Clear(_state);
        _passed.Clear();
        return rest;
    }

    /// <summary>KMP's failure function: for each prefix length i + 1, the length of its longest proper border.</summary>
    private static int[] Borders(string s)
    {
        var border = new int[s.Length];
        for (int i = 1, k = 0; i < s.Length; i++)
        {
            while (k > 0 && s[i] != s[k]) k = border[k - 1];
            if (s[i] == s[k]) k++;
            border[i] = k;
        }
        return border;
    }
}
