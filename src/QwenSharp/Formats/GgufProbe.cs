namespace QwenSharp.Formats;

/// <summary>Whether a path is a GGUF file, by its magic rather than its name (Ollama's blobs have no extension).</summary>
public static class GgufProbe
{
    public static bool IsGguf(string path)
    {
        if (!File.Exists(path)) return false;
        using var f = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        return f.Read(magic) == 4 && magic.SequenceEqual("GGUF"u8);
    }
}
