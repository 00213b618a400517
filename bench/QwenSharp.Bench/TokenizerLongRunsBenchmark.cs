using System.Diagnostics;
using System.Globalization;
using System.Text;
using QwenSharp.Text;

namespace QwenSharp.Bench;

/// <summary>
/// `tokenizer-runs`: the worst cases of issue 21, one line that is a single long run of one kind of character
/// (one pre-token, or one NFC region), encoded by ours and by Hugging Face tokenizers (Rust, through
/// Tokenizers.DotNet) in the same process, single thread, with the ids compared. Linear cost shows as a
/// growth column near the length ratio (4 from 40,000 to 160,000 characters).
/// </summary>
public sealed class TokenizerLongRunsBenchmark : IBenchmark
{
    public string Name => "tokenizer-runs";
    public string Summary => "Qwen2 tokenizer on one long run of one kind (letters, CJK, emoji, spaces...) vs HF [--lengths 40000,160000] [--rounds 7] [--kinds a,b] [--tokenizer tokenizer.json]";

    /// <summary>The kinds issue 21 names (Latin-1 letters both as one letter and as a mix).</summary>
    private static readonly string[] s_required = ["letters", "cjk", "emoji", "spaces", "newlines", "punctuation", "latin1", "latin1-mixed"];

    /// <summary>The kinds the issue names, then ones that reach the other steps of encoding: canonical
    /// reordering in NFC, the added-token matcher, white space ending in a newline, pairs of kinds, and
    /// pre-tokens of random letters (many different pairs, so many ranks in play: the slowest per byte).</summary>
    private static readonly (string Name, Func<int, string> Make)[] s_kinds =
    [
        ("letters", n => new string('a', n)),
        ("cjk", n => new string('中', n)),
        ("emoji", n => Repeat("😀", n)),
        ("spaces", n => new string(' ', n)),
        ("newlines", n => new string('\n', n)),
        ("punctuation", n => new string('!', n)),
        ("latin1", n => new string('é', n)),
        ("latin1-mixed", n => Cycle("àéîõüçñÿßø", n)),
        ("marks-unsorted", n => "a" + new string('\u0301', n / 2) + new string('\u0334', n - n / 2)),
        ("added-prefix", n => new string('<', n)),
        ("spaces-newline", n => new string(' ', n - 1) + "\n"),
        ("crlf", n => Repeat("\r\n", n / 2)),
        ("digits", n => new string('7', n)),
        ("letters+cjk", n => new string('a', n / 2) + new string('中', n - n / 2)),
        ("random-letters", n => Random("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", n)),
        ("random-etaoin", n => Random("etaoinshrdlu", n)),
        ("random-cjk", n => Random(new string(Enumerable.Range(0x4E00, 0x9FA5 - 0x4E00).Select(c => (char)c).ToArray()), n)),
    ];

    public int Run(string[] args)
    {
        string path = TokenizerBenchmark.Option(args, "--tokenizer") ?? TokenizerBenchmark.FindFixture();
        int[] lengths = (TokenizerBenchmark.Option(args, "--lengths") ?? "40000,160000").Split(',')
            .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        int rounds = int.Parse(TokenizerBenchmark.Option(args, "--rounds") ?? "7", CultureInfo.InvariantCulture);
        var wanted = TokenizerBenchmark.Option(args, "--kinds")?.Split(',');
        var kinds = s_kinds.Where(k => wanted == null || wanted.Contains(k.Name)).ToArray();
        if (kinds.Length == 0)
        {
            Console.Error.WriteLine($"--kinds: none of {string.Join(',', wanted!)}; known: {string.Join(',', s_kinds.Select(k => k.Name))}");
            return 1;
        }

        var sw = Stopwatch.StartNew();
        var ours = Qwen2Tokenizer.FromTokenizerJson(path);
        var hf = new Tokenizers.DotNet.Tokenizer(vocabPath: path);
        Console.WriteLine($"loaded both in {sw.Elapsed.TotalSeconds:F2} s; {path}; best of {rounds} rounds, single thread");
        // both warmed on a short mixed line, so neither pays its first-call costs inside a row
        ours.Encode("warm up: abc 中文 😀 !!  \n\n é");
        hf.Encode("warm up: abc 中文 😀 !!  \n\n é");

        Console.WriteLine();
        Console.WriteLine("| kind | chars (code points) | UTF-8 bytes | tokens | ours s | HF s | HF ÷ ours | ours growth | ids equal |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---|");
        bool allEqual = true;
        var verdicts = new List<string>();
        foreach (var (name, make) in kinds)
        {
            string[] texts = lengths.Select(make).ToArray();
            var oursBest = Best(texts, ours.Encode, rounds, out var oursIds);
            var hfBest = Best(texts, hf.Encode, rounds, out var hfIds);
            for (int k = 0; k < lengths.Length; k++)
            {
                bool equal = oursIds[k].AsSpan().SequenceEqual(hfIds[k].Select(u => (int)u).ToArray());
                allEqual &= equal;
                string growth = k == 0 ? "" : $"{oursBest[k] / oursBest[0]:F2}× for {(double)lengths[k] / lengths[0]:F0}× length";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {lengths[k]:N0} | {Encoding.UTF8.GetByteCount(texts[k]):N0} | {oursIds[k].Length:N0} | {oursBest[k]:F4} | {hfBest[k]:F4} | {hfBest[k] / oursBest[k]:F1}× | {growth} | {(equal ? "yes" : "NO")} |"));
                // issue 21: 160,000 characters in under 1 s and at most 5x the time of 40,000
                if (lengths[k] == 160_000 && lengths[0] == 40_000 && s_required.Contains(name))
                    verdicts.Add(oursBest[k] < 1 && oursBest[k] <= 5 * oursBest[0] && equal ? $"{name} ok" : $"{name} FAILS");
            }
        }
        Console.WriteLine();
        if (verdicts.Count > 0) Console.WriteLine("issue 21 (160,000 chars < 1 s, <= 5x the 40,000 time, same ids): " + string.Join(", ", verdicts));
        Console.WriteLine(allEqual ? "ids identical on every line" : "WARNING: some lines tokenized differently");
        return allEqual ? 0 : 1;
    }

    /// <summary>
    /// The best time of each text over the rounds. One tokenizer's rounds run back to back (each finds the caches
    /// holding its own data, as a server tokenizing request after request would), and each round takes every
    /// length in turn, so a burst of load from elsewhere on the machine falls on all lengths alike rather than
    /// on one, which would skew the growth column.
    /// </summary>
    private static double[] Best<T>(string[] texts, Func<string, T> encode, int rounds, out T[] results)
    {
        var best = Enumerable.Repeat(double.MaxValue, texts.Length).ToArray();
        results = new T[texts.Length];
        var sw = new Stopwatch();
        for (int r = 0; r < rounds; r++)
            for (int k = 0; k < texts.Length; k++)
            {
                sw.Restart();
                results[k] = encode(texts[k]);
                best[k] = Math.Min(best[k], sw.Elapsed.TotalSeconds);
            }
        return best;
    }

    private static string Repeat(string unit, int count) => new StringBuilder(unit.Length * count).Insert(0, unit, count).ToString();

    /// <summary>Characters drawn at random (fixed seed) from <paramref name="alphabet"/>: one pre-token with many
    /// different pairs, so many ranks are in play at once.</summary>
    private static string Random(string alphabet, int count)
    {
        var rng = new Random(21);
        var chars = new char[count];
        for (int i = 0; i < count; i++) chars[i] = alphabet[rng.Next(alphabet.Length)];
        return new string(chars);
    }

    private static string Cycle(string units, int count)
    {
        var chars = new char[count];
        for (int i = 0; i < count; i++) chars[i] = units[i % units.Length];
        return new string(chars);
    }
}
