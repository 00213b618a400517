using System.IO.Compression;

namespace QwenSharp.Tests;

/// <summary>
/// Files under tests/fixtures (copied next to the test assembly). Gzipped files are unpacked once into a
/// temporary folder; <see cref="Path"/> returns the plain file either way.
/// </summary>
public static class Fixtures
{
    private static readonly string Root = System.IO.Path.Combine(AppContext.BaseDirectory, "fixtures");
    private static readonly string Unpacked = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "qwensharp-fixtures-" + Environment.ProcessId);
    private static readonly object Gate = new();

    /// <summary>The fixture at <paramref name="relative"/> (e.g. "qwen2-tokenizer/tokenizer.json"), unpacking "*.gz" if needed.</summary>
    public static string Path(string relative)
    {
        string plain = System.IO.Path.Combine(Root, relative);
        if (File.Exists(plain)) return plain;
        string gz = plain + ".gz";
        if (!File.Exists(gz)) throw new FileNotFoundException($"Fixture {relative} not found under {Root}.");
        lock (Gate)
        {
            string target = System.IO.Path.Combine(Unpacked, relative);
            if (!File.Exists(target))
            {
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
                string tmp = target + ".tmp";
                using (var input = new GZipStream(File.OpenRead(gz), CompressionMode.Decompress))
                using (var output = File.Create(tmp))
                    input.CopyTo(output);
                File.Move(tmp, target, overwrite: true);
            }
            return target;
        }
    }

    /// <summary>A folder with tokenizer.json, vocab.json, merges.txt and tokenizer_config.json of Qwen2, unpacked.</summary>
    public static string TokenizerFolder
    {
        get
        {
            foreach (var f in new[] { "tokenizer.json", "vocab.json", "merges.txt" }) Path("qwen2-tokenizer/" + f);
            string dir = System.IO.Path.Combine(Unpacked, "qwen2-tokenizer");
            // Once, under the lock: tests running in parallel read this file while another would overwrite it.
            lock (Gate)
            {
                string config = System.IO.Path.Combine(dir, "tokenizer_config.json");
                if (!File.Exists(config))
                {
                    File.Copy(Path("qwen2-tokenizer/tokenizer_config.json"), config + ".tmp", overwrite: true);
                    File.Move(config + ".tmp", config);
                }
            }
            return dir;
        }
    }

    public static string Config(string name) => Path($"configs/{name}");

    /// <summary>A fresh empty temporary folder, deleted by the caller's using.</summary>
    public static TempDir TempDir() => new();
}

public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "qwensharp-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
