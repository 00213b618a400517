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
}
