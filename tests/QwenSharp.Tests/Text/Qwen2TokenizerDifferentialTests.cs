using QwenSharp.Text;
using QwenSharp.Text.Unicode;
using Xunit.Abstractions;

namespace QwenSharp.Tests.Text;

/// <summary>
/// Our Qwen2 tokenizer against Hugging Face tokenizers on the real Qwen2 vocabulary: the same ids for every
/// string, the same text from the same ids, and decode(encode(s)) giving back the NFC text.
/// </summary>
public sealed class Qwen2TokenizerDifferentialTests(ITestOutputHelper output)
{
    private static readonly Lazy<Qwen2Tokenizer> s_ours = new(() => Qwen2Tokenizer.FromTokenizerJson(Fixtures.Path("qwen2-tokenizer/tokenizer.json")));
    private static HfTokenizer Hf => HfTokenizer.Load(Fixtures.Path("qwen2-tokenizer/tokenizer.json"));

    internal static Qwen2Tokenizer Ours => s_ours.Value;

    /// <summary>Replaces lone surrogates with U+FFFD, the policy ours applies itself (HF refuses them).</summary>
    internal static string Valid(string s)
    {
        var chars = s.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1])) i++;
            else if (char.IsSurrogate(chars[i])) chars[i] = '\uFFFD';
        }
        return new string(chars);
    }

    internal static IEnumerable<string> Corpus() =>
        TokenizerCorpus.Handwritten
            .Concat(TokenizerCorpus.Mixtures(3000, seed: 1))
            .Concat(TokenizerCorpus.RandomCodePoints(1500, seed: 2))
            .Concat(TokenizerCorpus.LoneSurrogates(300, seed: 3))
            .Concat(TokenizerCorpus.Runs());

    /// <summary>
    /// Each code point with NFC data in our tables: alone, fully decomposed, after a base letter, and in the two
    /// orders that reveal its combining class (U+0334 has class 1, U+0301 class 230).
    /// </summary>
    private static IEnumerable<string> NfcProbes() =>
        NfcNormalizer.CodePointsWithData().Distinct().Order().SelectMany(cp =>
        {
            string c = char.ConvertFromUtf32(cp);
            return new[] { c, NfcNormalizer.FullDecomposition(cp), "q" + c + "\u0334", "q\u0301" + c, "a" + c };
        });

    /// <summary>
    /// Every corpus string against HF. The handwritten ones go one call each; the generated ones go 50 to a call
    /// joined by &lt;|endoftext|&gt;: HF cuts added tokens out first and tokenizes what lies between them on its
    /// own, so the joined ids are each string's ids with 151643 between (asserted for ours too), while one call
    /// into the reference costs milliseconds. A differing chunk is compared string by string for the report.
    /// </summary>
    [Fact]
    public void Ids_equal_hugging_face_on_the_corpus()
    {
        var corpus = Corpus().ToList();
        Assert.True(corpus.Count >= 5000, $"the corpus has {corpus.Count} strings");
        var failures = new List<string>();
        foreach (string s in TokenizerCorpus.Handwritten) Compare(s, failures);
        CompareChunked(corpus.Skip(TokenizerCorpus.Handwritten.Length).ToList(), "<|endoftext|>", 50, failures);
        Report(failures, corpus.Count);
    }

    /// <summary>The probes, joined 40 at a time by a newline (a boundary for NFC and the pre-tokenizer alike).</summary>
    [Fact]
    public void Ids_equal_hugging_face_on_every_code_point_with_nfc_data()
    {
        var probes = NfcProbes().ToList();
        Assert.True(probes.Count > 5000, $"only {probes.Count} NFC probes");
        var failures = new List<string>();
        CompareChunked(probes, "\n", 40, failures);
        Report(failures, probes.Count);
    }

    private static void CompareChunked(List<string> strings, string separator, int size, List<string> failures)
    {
        int? separatorId = Ours.TokenToId(separator);
        foreach (var chunk in strings.Chunk(size))
        {
            string joined = string.Join(separator, chunk);
            int[] ours = Ours.Encode(joined);
            if (separatorId is int sep)
            {
                var oneByOne = new List<int>();
                for (int i = 0; i < chunk.Length; i++)
                {
                    if (i > 0) oneByOne.Add(sep);
                    oneByOne.AddRange(Ours.Encode(chunk[i]));
                }
                Assert.Equal(oneByOne, ours);
            }
            if (Hf.Encode(Valid(joined)).AsSpan().SequenceEqual(ours)) continue;
            int before = failures.Count;
            foreach (string s in chunk) Compare(s, failures);
            if (failures.Count == before) failures.Add("chunk " + Escape(joined));
        }
    }

    [Fact]
    public void Decode_of_encode_is_the_nfc_text()
    {
        var failures = new List<string>();
        foreach (string s in Corpus())
        {
            string nfc = NfcNormalizer.Normalize(Valid(s));
            string decoded = Ours.Decode(Ours.Encode(s));
            if (decoded != nfc) failures.Add($"{Escape(s)}: decoded {Escape(decoded)}, NFC {Escape(nfc)}");
        }
        Report(failures, 0);
    }

    /// <summary>Same ids, same text: token bytes joined and read as UTF-8 with HF's replacement of invalid bytes.
    /// Tokenizers.DotNet decodes with skip_special_tokens, so ours skips them too here.</summary>
    [Fact]
    public void Decode_equals_hugging_face_for_corpus_ids_and_random_ids()
    {
        var sequences = Corpus().Chunk(50).Select(c => Ours.Encode(string.Join("\n", c))).ToList();
        var rng = new Random(7);
        for (int k = 0; k < 200; k++)
            sequences.Add(Enumerable.Range(0, rng.Next(1, 30)).Select(_ => rng.Next(0, Ours.VocabSize)).ToArray());
        // byte tokens alone: broken UTF-8 of every shape
        for (int k = 0; k < 200; k++)
            sequences.Add(Enumerable.Range(0, rng.Next(1, 12)).Select(_ => rng.Next(0, 256)).ToArray());
        var failures = new List<string>();
        foreach (int[] ids in sequences)
        {
            string expected = Hf.Decode(ids), actual = Ours.Decode(ids, skipSpecialTokens: true);
            if (expected != actual) failures.Add($"[{string.Join(' ', ids)}]: HF {Escape(expected)}, ours {Escape(actual)}");
        }
        Report(failures, sequences.Count);
    }

    private static void Compare(string s, List<string> failures)
    {
        int[] expected = Hf.Encode(Valid(s));
        int[] actual = Ours.Encode(s);
        if (!expected.AsSpan().SequenceEqual(actual))
            failures.Add($"{Escape(s)}\n   HF:   {string.Join(' ', expected)}\n   ours: {string.Join(' ', actual)}");
    }

    private void Report(List<string> failures, int total)
    {
        foreach (var f in failures.Take(30)) output.WriteLine(f);
        Assert.True(failures.Count == 0, $"{failures.Count} of {total} differ; first: {failures.FirstOrDefault()}");
    }

    internal static string Escape(string s) =>
        string.Concat(s.Select(c => c < 0x20 || c > 0x7E ? $"\\u{(int)c:X4}" : c.ToString()));
}
