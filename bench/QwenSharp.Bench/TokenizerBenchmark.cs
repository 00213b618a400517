using System.Diagnostics;
using System.Text;
using QwenSharp.Text;

namespace QwenSharp.Bench;

/// <summary>
/// `tokenizer`: encode throughput of our Qwen2 tokenizer against Hugging Face tokenizers (Rust, through
/// Tokenizers.DotNet) on the same ~10 MB mixed corpus, single thread, same run; and tokenizer.json load time.
/// </summary>
public sealed class TokenizerBenchmark : IBenchmark
{
    public string Name => "tokenizer";
    public string Summary => "Qwen2 tokenizer: encode MB/s vs Hugging Face tokenizers, load time [--tokenizer tokenizer.json] [--mb 10] [--rounds 3]";

    public int Run(string[] args)
    {
        string path = Option(args, "--tokenizer") ?? FindFixture();
        double megabytes = double.Parse(Option(args, "--mb") ?? "10", System.Globalization.CultureInfo.InvariantCulture);
        int rounds = int.Parse(Option(args, "--rounds") ?? "3", System.Globalization.CultureInfo.InvariantCulture);

        var sw = Stopwatch.StartNew();
        var ours = Qwen2Tokenizer.FromTokenizerJson(path);
        double firstLoad = sw.Elapsed.TotalSeconds;
        double bestLoad = double.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            sw.Restart();
            Qwen2Tokenizer.FromTokenizerJson(path);
            bestLoad = Math.Min(bestLoad, sw.Elapsed.TotalSeconds);
        }
        sw.Restart();
        var hf = new Tokenizers.DotNet.Tokenizer(vocabPath: path);
        double hfLoad = sw.Elapsed.TotalSeconds;

        // documents of ~64 KB: one call each, for both (per-call overhead is then negligible)
        string corpus = TokenizerCorpusGenerator.Generate((int)(megabytes * 1e6 / 1.3)); // ~1.3 UTF-8 bytes per char in this mix
        var documents = new List<string>();
        for (int at = 0; at < corpus.Length; at += 65536) documents.Add(corpus.Substring(at, Math.Min(65536, corpus.Length - at)));
        // keep surrogate pairs whole at the cuts
        for (int i = 0; i + 1 < documents.Count; i++)
            if (char.IsHighSurrogate(documents[i][^1])) { documents[i + 1] = documents[i][^1] + documents[i + 1]; documents[i] = documents[i][..^1]; }
        long bytes = documents.Sum(d => (long)Encoding.UTF8.GetByteCount(d));
        Console.WriteLine($"corpus: {bytes / 1e6:F2} MB UTF-8 ({corpus.Length:N0} chars) in {documents.Count} documents; {path}");

        long oursTokens = 0, hfTokens = 0, mismatched = 0;
        var ids = new List<int>(70_000);
        double oursBest = double.MaxValue, hfBest = double.MaxValue;
        for (int r = 0; r < rounds; r++)
        {
            var fresh = r == 0 ? ours : Qwen2Tokenizer.FromTokenizerJson(path); // each round starts with an empty word cache
            sw.Restart();
            oursTokens = 0;
            foreach (string d in documents)
            {
                ids.Clear();
                fresh.Encode(d, ids);
                oursTokens += ids.Count;
            }
            oursBest = Math.Min(oursBest, sw.Elapsed.TotalSeconds);

            sw.Restart();
            hfTokens = 0;
            foreach (string d in documents) hfTokens += hf.Encode(d).Length;
            hfBest = Math.Min(hfBest, sw.Elapsed.TotalSeconds);
        }
        foreach (string d in documents)
            if (!ours.Encode(d).AsSpan().SequenceEqual(hf.Encode(d).Select(u => (int)u).ToArray())) mismatched++;

        double oursMbs = bytes / 1e6 / oursBest, hfMbs = bytes / 1e6 / hfBest;
        Console.WriteLine($"load tokenizer.json: ours {firstLoad:F3} s first, {bestLoad:F3} s warm; HF {hfLoad:F3} s");
        Console.WriteLine($"encode (best of {rounds}, single thread):");
        Console.WriteLine($"  QwenSharp             {oursMbs,8:F2} MB/s  {oursTokens:N0} tokens");
        Console.WriteLine($"  HF tokenizers (Rust)  {hfMbs,8:F2} MB/s  {hfTokens:N0} tokens");
        Console.WriteLine($"  ratio                 {oursMbs / hfMbs,8:F2}x");
        Console.WriteLine(mismatched == 0 ? "ids identical on every document" : $"WARNING: {mismatched} documents tokenized differently");
        return mismatched == 0 ? 0 : 1;
    }

    internal static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    internal static string FindFixture()
    {
        // the repo's gzipped fixture, unpacked next to it once
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string gz = Path.Combine(dir.FullName, "tests", "fixtures", "qwen2-tokenizer", "tokenizer.json.gz");
            if (!File.Exists(gz)) continue;
            string plain = Path.Combine(Path.GetTempPath(), "qwensharp-bench-tokenizer.json");
            if (!File.Exists(plain))
            {
                using var input = new System.IO.Compression.GZipStream(File.OpenRead(gz), System.IO.Compression.CompressionMode.Decompress);
                using var output = File.Create(plain + ".tmp");
                input.CopyTo(output);
                output.Close();
                File.Move(plain + ".tmp", plain, overwrite: true);
            }
            return plain;
        }
        throw new FileNotFoundException("tests/fixtures/qwen2-tokenizer/tokenizer.json.gz not found above the benchmark; pass --tokenizer <tokenizer.json>.");
    }
}
