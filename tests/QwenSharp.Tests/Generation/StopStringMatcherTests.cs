using QwenSharp.Generation;

namespace QwenSharp.Tests.Generation;

public class StopStringMatcherTests
{
    /// <summary>Feeds pieces one by one; returns what was emitted per piece and whether a stop matched.</summary>
    private static (List<string> Emitted, string? Matched) Feed(StopStringMatcher m, params string[] pieces)
    {
        var emitted = new List<string>();
        foreach (var piece in pieces)
        {
            emitted.Add(m.Push(piece));
            if (m.Matched is not null) return (emitted, m.Matched);
        }
        emitted.Add(m.Flush());
        return (emitted, null);
    }

    [Fact]
    public void StopSplitAcrossPiecesIsCaughtAndNeverEmitted()
    {
        var m = new StopStringMatcher(["<END>"], includeStopInOutput: false);
        var (emitted, matched) = Feed(m, "Hello <", "E", "ND", "> tail");
        Assert.Equal("<END>", matched);
        Assert.Equal(["Hello ", "", "", ""], emitted);
    }

    [Fact]
    public void AFalseStartIsReleasedWhenItCannotBeAStop()
    {
        var m = new StopStringMatcher(["<END>"], includeStopInOutput: false);
        var (emitted, matched) = Feed(m, "a <E", "X> b");
        Assert.Null(matched);
        Assert.Equal(["a ", "<EX> b", ""], emitted);
    }

    [Fact]
    public void HeldTextIsFlushedAtTheEnd()
    {
        var m = new StopStringMatcher(["###"], includeStopInOutput: false);
        Assert.Equal("x", m.Push("x##"));
        Assert.Equal("##", m.Held);
        Assert.Equal("##", m.Flush());
    }

    [Fact]
    public void TextAfterTheStopInTheSamePieceIsDropped()
    {
        var m = new StopStringMatcher(["\n\n"], includeStopInOutput: false);
        Assert.Equal("one", m.Push("one\n\ntwo"));
        Assert.Equal("\n\n", m.Matched);
    }

    [Fact]
    public void IncludeStopStrInOutputKeepsTheStopButNothingAfter()
    {
        var m = new StopStringMatcher(["STOP"], includeStopInOutput: true);
        Assert.Equal("go ", m.Push("go ST"));
        Assert.Equal("STOP", m.Push("OP now"));
    }

    [Fact]
    public void TheEarliestStopWins()
    {
        var m = new StopStringMatcher(["zz", "b"], includeStopInOutput: false);
        Assert.Equal("a", m.Push("abzz"));
        Assert.Equal("b", m.Matched);
    }

    [Fact]
    public void OverlappingPrefixesAreHeldByTheLongestCandidate()
    {
        // "aab" inside "aaab": after "aa" the tail "aa" may begin "aab"; after "aaa" only the last "aa" can.
        var m = new StopStringMatcher(["aab"], includeStopInOutput: false);
        Assert.Equal("", m.Push("aa"));
        Assert.Equal("a", m.Push("a"));
        Assert.Equal("", m.Push("b"));
        Assert.Equal("aab", m.Matched);
    }

    [Fact]
    public void WithoutDetectionStopsPassButTailsAreStillHeld()
    {
        var m = new StopStringMatcher(["xy"], includeStopInOutput: false);
        Assert.Equal("axyb", m.Push("axyb", detect: false));
        Assert.Equal("c", m.Push("cx", detect: false));
        Assert.Equal("", m.Push("y"));
        Assert.Equal("xy", m.Matched);
    }

    [Fact]
    public void NoStopsPassesEverythingThrough()
    {
        var m = new StopStringMatcher([], includeStopInOutput: false);
        Assert.Equal("<any>", m.Push("<any>"));
        Assert.Equal("", m.Flush());
    }

    [Fact]
    public void EqualsTheSearchEverythingReferenceOnRandomStreams()
    {
        // Small alphabets make overlapping stops, borders (KMP's fallbacks) and ties at one start common.
        var rng = new Random(1234);
        for (int trial = 0; trial < 3000; trial++)
        {
            string alphabet = trial % 3 == 0 ? "ab" : "abc";
            string Word(int min, int max) => new(Enumerable.Range(0, rng.Next(min, max + 1)).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray());
            var stops = Enumerable.Range(0, rng.Next(1, 5)).Select(_ => Word(1, 6)).ToList();
            bool include = rng.Next(2) == 0;
            var fast = new StopStringMatcher(stops, include);
            var reference = new ReferenceMatcher(stops, include);
            int pieces = rng.Next(1, 12), detectFrom = rng.Next(0, pieces + 1);
            for (int p = 0; p < pieces && fast.Matched is null; p++)
            {
                string piece = Word(0, 5);
                bool detect = p >= detectFrom;
                string held = reference.Held;
                string expected = reference.Push(piece, detect), actual = fast.Push(piece, detect);
                Assert.True(expected == actual, $"stops [{string.Join(",", stops)}] include={include} held '{held}' piece '{piece}' detect={detect}: '{expected}' vs '{actual}'");
                Assert.Equal(reference.Matched, fast.Matched);
                Assert.Equal(reference.Held, fast.Held);
            }
            if (fast.Matched is null) Assert.Equal(reference.Flush(), fast.Flush());
        }
    }

    [Fact]
    public void SixtyFourLongStopsStayLinearInTheText()
    {
        // 64 stops of 1,000 characters that all begin like the text: each piece moves 64 states, nothing is re-searched.
        var stops = Enumerable.Range(0, 64).Select(i => new string('a', 999) + (char)('A' + i % 26)).ToList();
        var m = new StopStringMatcher(stops, includeStopInOutput: false);
        var emitted = new System.Text.StringBuilder();
        for (int i = 0; i < 5000; i++) emitted.Append(m.Push("aa"));
        Assert.Null(m.Matched);
        Assert.Equal(999, m.Held.Length);
        Assert.Equal(10_000 - 999, emitted.Length);
        Assert.Equal("", m.Push("Z"[..0] + "A"));
        Assert.Equal(stops[0], m.Matched);
    }

    /// <summary>The straightforward matcher: search the held text plus the piece for every stop, then find the
    /// longest held tail by trying every length against every stop.</summary>
    private sealed class ReferenceMatcher(IReadOnlyList<string> stops, bool include)
    {
        public string? Matched;
        public string Held = "";

        public string Push(string text, bool detect)
        {
            string pending = Held + text;
            if (detect)
            {
                int bestAt = -1;
                string? best = null;
                foreach (var stop in stops)
                {
                    int at = pending.IndexOf(stop, StringComparison.Ordinal);
                    if (at >= 0 && (bestAt < 0 || at < bestAt)) (bestAt, best) = (at, stop);
                }
                if (best is not null)
                {
                    Matched = best;
                    Held = "";
                    return pending[..(include ? bestAt + best.Length : bestAt)];
                }
            }
            int keep = 0;
            for (int length = pending.Length; length > 0 && keep == 0; length--)
                foreach (var stop in stops)
                    if (stop.Length > length && stop.StartsWith(pending[^length..], StringComparison.Ordinal)) { keep = length; break; }
            Held = pending[^keep..];
            return pending[..^keep];
        }

        public string Flush()
        {
            string rest = Held;
            Held = "";
            return rest;
        }
    }
}
