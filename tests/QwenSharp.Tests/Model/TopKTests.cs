using System.Globalization;
using QwenSharp.Model;

namespace QwenSharp.Tests.Model;

/// <summary>
/// <see cref="TopK"/> against the first k indices of std::sort (GCC 12's libstdc++) with "score[a] &gt; score[b]", as
/// llama.cpp's CPU argsort hands them to its MoE layers: rows of 2 to 128 scores (insertion sort up to 16, introsort
/// above), most with one to four distinct values so that ties cross the cut, k 1 to 8
/// (tests/fixtures/moe/make_argsort_cases.cpp wrote the cases).
/// </summary>
public class TopKTests
{
    [Fact]
    public void TiesAreBrokenAsStdSortBreaksThem()
    {
        int cases = 0, notLowestIndex = 0;
        foreach (string line in File.ReadLines(Fixtures.Path("moe/argsort-desc.txt")))
        {
            var parts = line.Split(';');
            int k = int.Parse(parts[0], CultureInfo.InvariantCulture);
            var scores = parts[1].Split(' ').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            var expected = parts[2].Split(' ').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            var chosen = new int[k];
            TopK.Select(scores, chosen, new int[scores.Length]);
            Assert.True(expected.SequenceEqual(chosen), $"k {k} of [{parts[1]}]: std::sort puts first {parts[2]}, TopK {string.Join(' ', chosen)}");
            var lowestFirst = Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ThenBy(i => i).Take(k).Order();
            if (!lowestFirst.SequenceEqual(expected.Order())) notLowestIndex++;
            cases++;
        }
        Assert.Equal(710, cases);
        // The cases are worth having: in many of them the lower indices do not win a tie (another set of experts).
        Assert.True(notLowestIndex > 50, $"only {notLowestIndex} cases differ from lowest-index-first");
    }

    [Fact]
    public void DistinctScoresGiveTheLargest()
    {
        var rng = new Random(3);
        for (int n = 1; n <= 70; n++)
        {
            var scores = Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble()).ToArray();
            for (int k = 1; k <= Math.Min(n, 9); k++)
            {
                var chosen = new int[k];
                TopK.Select(scores, chosen, new int[n]);
                Assert.Equal(Enumerable.Range(0, n).OrderByDescending(i => scores[i]).Take(k), chosen);
            }
        }
    }

    [Fact]
    public void MoreThanThereAreIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => TopK.Select(new float[3], new int[4], new int[4]));
        Assert.Equal("Top 4 of 3 scores is undefined.", e.Message);
    }
}
