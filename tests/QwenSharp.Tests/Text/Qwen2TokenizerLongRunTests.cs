using System.Text;
using System.Text.Json.Nodes;
using QwenSharp.Text;
using Xunit.Abstractions;

namespace QwenSharp.Tests.Text;

/// <summary>
/// The worst cases for encoding cost (issue 21), for correctness: a long run of one kind of character is one
/// pre-token, merged by the candidate queue rather than by scanning, and past 64K bytes with pooled scratch;
/// a run of combining marks out of order is one NFC region sorted by counting. Each is compared with Hugging
/// Face tokenizers, alone and meeting another kind at a boundary. Speed is measured in bench/ (tokenizer-runs).
/// </summary>
public sealed class Qwen2TokenizerLongRunTests(ITestOutputHelper output)
{
    private static Qwen2Tokenizer Ours => Qwen2TokenizerDifferentialTests.Ours;
    private static HfTokenizer Hf => HfTokenizer.Load(Fixtures.Path("qwen2-tokenizer/tokenizer.json"));

    /// <summary>Units repeated to make a run. Marks: classes 230, 1, 230 (U+0301, U+0334, U+0300), so the run is
    /// out of canonical order and two marks of one class must keep their order.</summary>
    private static readonly (string Name, string Unit)[] Kinds =
    [
        ("letters", "a"), ("cjk", "中"), ("emoji", "😀"), ("spaces", " "), ("newlines", "\n"), ("punctuation", "!"),
        ("latin1", "é"), ("latin1-mixed", "àéîõüçñÿßø"), ("digits", "7"), ("tabs", "\t"), ("crlf", "\r\n"),
        ("added-prefix", "<"), ("pairs", "ab"), ("marks", "\u0301\u0334\u0300"), ("zwj-emoji", "👩\u200D💻"),
    ];

    private static string Run(string unit, int count) => new StringBuilder(unit.Length * count).Insert(0, unit, count).ToString();

    /// <summary>Lengths in units: just past the scanning path's 32 bytes, a middling word, and a word of more
    /// than 64K bytes, past the scratch a thread keeps.</summary>
    [Fact]
    public void Long_runs_of_each_kind_give_hugging_faces_ids()
    {
        var failures = new List<string>();
        foreach (var (name, unit) in Kinds)
            foreach (int count in new[] { 40, 1_000, 70_000 / Encoding.UTF8.GetByteCount(unit) })
                Compare($"{name} x{count}", Run(unit, count), failures);
        Report(failures);
    }

    [Fact]
    public void Runs_of_two_kinds_meeting_give_hugging_faces_ids()
    {
        var failures = new List<string>();
        foreach (var (a, unitA) in Kinds)
            foreach (var (b, unitB) in Kinds)
                if (a != b) Compare($"{a}+{b}", Run(unitA, 1_500 / unitA.Length) + Run(unitB, 1_500 / unitB.Length), failures);
        // a letter before the marks composes with the first of them
        Compare("letter+marks", "e" + Run("\u0301\u0334\u0300", 10_000), failures);
        Report(failures);
    }

    /// <summary>Random sequences of runs of random kinds and lengths, and random letters (one pre-token whose
    /// pairs are all different, so many ranks are in play at once).</summary>
    [Fact]
    public void Random_runs_and_random_letters_give_hugging_faces_ids()
    {
        var rng = new Random(21);
        var failures = new List<string>();
        for (int k = 0; k < 30; k++)
        {
            var text = new StringBuilder();
            while (text.Length < 20_000)
            {
                var (_, unit) = Kinds[rng.Next(Kinds.Length)];
                text.Append(Run(unit, rng.Next(1, 3_000)));
            }
            Compare($"random runs #{k}", text.ToString(), failures);
        }
        foreach (int length in new[] { 100, 5_000, 70_000 })
        {
            var letters = Enumerable.Range(0, length).Select(_ => (char)(rng.Next(2) == 0 ? 'a' + rng.Next(26) : 'A' + rng.Next(26)));
            Compare($"random letters x{length}", new string(letters.ToArray()), failures);
            var cjk = Enumerable.Range(0, length / 3).Select(_ => (char)rng.Next(0x4E00, 0x9FA5));
            Compare($"random CJK x{length / 3}", new string(cjk.ToArray()), failures);
        }
        Report(failures);
    }

    /// <summary>One tokenizer shared by threads keeps each thread's long-word scratch apart.</summary>
    [Fact]
    public void Concurrent_long_runs_equal_sequential_ones()
    {
        var texts = Kinds.Select(k => Run(k.Unit, 25_000 / k.Unit.Length)).Concat(Kinds.Select(k => Run(k.Unit, 300))).ToArray();
        var expected = texts.Select(Ours.Encode).ToArray();
        var actual = new int[texts.Length][];
        Parallel.For(0, texts.Length * 3, new ParallelOptions { MaxDegreeOfParallelism = 6 },
            i => actual[i % texts.Length] = Ours.Encode(texts[i % texts.Length]));
        for (int i = 0; i < texts.Length; i++) Assert.Equal(expected[i], actual[i]);
    }

    /// <summary>
    /// A vocabulary of every string of 'a' and 'b' up to length 6, with a rule for every way to split each one
    /// (so a token can be made at several ranks, and candidates of one rank arrive out of position order). In
    /// length order, a rule only joins tokens that earlier rules made, as in a trained vocabulary; shuffled,
    /// a merge can form a pair of lower rank than its own, which the candidate queue meets by turning into a
    /// plain heap. Both must take merges in HF's order.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_vocabulary_whose_rule_order_is_trained_or_shuffled_gives_hugging_faces_ids(bool shuffled)
    {
        var rng = new Random(shuffled ? 5 : 4);
        var words = new List<string> { "a", "b" };
        for (int length = 2; length <= 6; length++)
            words.AddRange(words.Where(w => w.Length == length - 1).SelectMany(w => new[] { w + "a", w + "b" }).ToList());
        // every split of every string is a rule, so a token is made by several rules at several ranks
        var rules = words.SelectMany(w => Enumerable.Range(1, w.Length - 1).Select(split => (Left: w[..split], Right: w[split..])))
            .OrderBy(r => shuffled ? 0 : r.Left.Length + r.Right.Length).ThenBy(_ => rng.Next()).ToList();

        var root = JsonNode.Parse(File.ReadAllText(Fixtures.Path("qwen2-tokenizer/tokenizer.json")))!.AsObject();
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteLevelAlphabet.ByteToChar((byte)b).ToString()] = b;
        foreach (string w in words.Where(w => w.Length > 1)) vocab[w] = vocab.Count;
        root["added_tokens"] = new JsonArray();
        root["model"]!["vocab"] = vocab;
        root["model"]!["merges"] = new JsonArray(rules.Select(r => (JsonNode)new JsonArray(r.Left, r.Right)).ToArray());
        using var dir = Fixtures.TempDir();
        string path = dir.File("tokenizer.json");
        File.WriteAllText(path, root.ToJsonString());
        var ours = Qwen2Tokenizer.FromTokenizerJson(path);
        var hf = HfTokenizer.Load(path);

        var texts = new List<string> { Run("a", 40), Run("a", 20_000), Run("ab", 10_000), Run("aab", 70_000 / 3) };
        foreach (int length in new[] { 33, 100, 1_000, 20_000, 70_000 })
            for (int k = 0; k < 3; k++)
                texts.Add(new string(Enumerable.Range(0, length).Select(_ => rng.Next(3) == 0 ? 'b' : 'a').ToArray()));
        foreach (string text in texts)
            Assert.True(hf.Encode(text).AsSpan().SequenceEqual(ours.Encode(text)), $"{text.Length} chars starting {text[..Math.Min(40, text.Length)]}");
    }

    private static void Compare(string name, string text, List<string> failures)
    {
        int[] expected = Hf.Encode(text), actual = Ours.Encode(text);
        if (expected.AsSpan().SequenceEqual(actual)) return;
        int at = 0;
        while (at < Math.Min(expected.Length, actual.Length) && expected[at] == actual[at]) at++;
        failures.Add($"{name} ({text.Length} chars): {expected.Length} ids from HF, {actual.Length} ours, first difference at id {at}");
    }

    private void Report(List<string> failures)
    {
        foreach (string f in failures) output.WriteLine(f);
        Assert.True(failures.Count == 0, $"{failures.Count} differ; first: {failures.FirstOrDefault()}");
    }
}
