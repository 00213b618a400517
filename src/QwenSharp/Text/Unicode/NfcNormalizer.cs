using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;

namespace QwenSharp.Text.Unicode;

/// <summary>
/// Unicode Normalization Form C (UAX #15: canonical decomposition, canonical ordering, canonical composition)
/// with the tables Hugging Face tokenizers uses. Written here because .NET's string.Normalize needs ICU, which
/// InvariantGlobalization turns off, and because HF's tables are older than .NET's (it leaves U+11935 U+11930
/// apart, for one). The data comes from nfc-tables.bin.gz, made by generate_nfc_tables.py beside this file.
/// </summary>
internal static class NfcNormalizer
{
    // Hangul syllables compose and decompose algorithmically (Unicode §3.12).
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly byte[] s_bmpCcc = new byte[0x10000];
    private static readonly Dictionary<int, byte> s_supplementaryCcc = new();
    private static readonly Dictionary<int, (int First, int Second)> s_decompositions = new();
    private static readonly Dictionary<long, int> s_compositions = new();
    // 1 where a BMP character may change under NFC or change its neighbour (NFC_QC not Yes, or a non-zero
    // combining class); 2 for a high surrogate, whose code point is looked up in s_supplementaryUnsafe.
    private static readonly byte[] s_bmpUnsafe = new byte[0x10000];
    private static readonly HashSet<int> s_supplementaryUnsafe = new();

    static NfcNormalizer()
    {
        using var stream = typeof(NfcNormalizer).Assembly.GetManifestResourceStream("QwenSharp.Text.Unicode.nfc-tables.bin.gz")
            ?? throw new InvalidOperationException("The embedded resource QwenSharp.Text.Unicode.nfc-tables.bin.gz is missing from the QwenSharp assembly.");
        using var gz = new GZipStream(stream, CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        ReadOnlySpan<byte> data = ms.GetBuffer().AsSpan(0, (int)ms.Length);
        if (!data.StartsWith("NFC1"u8)) throw new InvalidDataException("The NFC table resource has an unknown format.");
        int pos = 4;
        int Next(ReadOnlySpan<byte> d) { int v = BinaryPrimitives.ReadInt32LittleEndian(d[pos..]); pos += 4; return v; }

        var unsafeCodePoints = new HashSet<int>();
        for (int n = Next(data); n > 0; n--)
        {
            int cp = Next(data), ccc = Next(data);
            if (cp < 0x10000) s_bmpCcc[cp] = (byte)ccc; else s_supplementaryCcc[cp] = (byte)ccc;
            unsafeCodePoints.Add(cp);
        }
        var decomposes = new List<int>();
        for (int n = Next(data); n > 0; n--)
        {
            int cp = Next(data), a = Next(data), b = Next(data);
            s_decompositions[cp] = (a, b);
            decomposes.Add(cp);
        }
        for (int n = Next(data); n > 0; n--)
        {
            int a = Next(data), b = Next(data), cp = Next(data);
            s_compositions[Key(a, b)] = cp;
            unsafeCodePoints.Add(b); // NFC_QC=Maybe: may compose with what precedes it
        }
        foreach (int cp in decomposes)
        {
            // A character NFC does not give back (a singleton, an exclusion, a non-starter decomposition).
            var (a, b) = s_decompositions[cp];
            if (b < 0 || !s_compositions.TryGetValue(Key(a, b), out int back) || back != cp) unsafeCodePoints.Add(cp);
        }
        for (int v = VBase; v < VBase + VCount; v++) unsafeCodePoints.Add(v);
        for (int t = TBase + 1; t < TBase + TCount; t++) unsafeCodePoints.Add(t);
        foreach (int cp in unsafeCodePoints)
        {
            if (cp < 0x10000) s_bmpUnsafe[cp] = 1;
            else s_supplementaryUnsafe.Add(cp);
        }
        for (int c = 0xD800; c < 0xDC00; c++) s_bmpUnsafe[c] = 2;
    }

    /// <summary>Every code point with a canonical decomposition or a non-zero combining class (for tests that
    /// probe the reference with each of them).</summary>
    internal static IEnumerable<int> CodePointsWithData()
    {
        for (int c = 0; c < 0x10000; c++)
            if (s_bmpCcc[c] != 0) yield return c;
        foreach (int c in s_supplementaryCcc.Keys) yield return c;
        foreach (int c in s_decompositions.Keys) yield return c;
    }

    /// <summary>The full canonical decomposition of one code point, as a string.</summary>
    internal static string FullDecomposition(int cp)
    {
        var list = new List<int>();
        Decompose(cp, list);
        return string.Concat(list.Select(char.ConvertFromUtf32));
    }

    private static long Key(int a, int b) => ((long)a << 21) | (uint)b;

    public static int CombiningClass(int cp) =>
        cp < 0x10000 ? s_bmpCcc[cp] : s_supplementaryCcc.TryGetValue(cp, out byte c) ? c : 0;

    /// <summary>The NFC form of <paramref name="text"/>.</summary>
    public static string Normalize(string text)
    {
        char[]? scratch = null;
        var result = Normalize(text, ref scratch);
        return scratch == null ? text : result.ToString();
    }

    /// <summary>
    /// The NFC form of <paramref name="text"/>: the text itself when nothing in it can change (the common
    /// case, found by a quick check), otherwise a slice of <paramref name="scratch"/>, grown as needed.
    /// </summary>
    public static ReadOnlySpan<char> Normalize(ReadOnlySpan<char> text, ref char[]? scratch)
    {
        int first = FirstUnsafe(text, 0);
        if (first < 0) return text;
        var sb = new ScratchWriter(scratch, text.Length + 16);
        int done = 0;
        int i = first;
        List<int>? codePoints = null;
        while (i >= 0)
        {
            // The region runs from the last safe character before i (a starter nothing can join from the
            // left) to the next safe character after it.
            int start = LastSafeStart(text, done, i);
            int end = NextSafe(text, i);
            sb.Append(text[done..start]);
            codePoints ??= new List<int>(32);
            NormalizeRegion(text[start..end], codePoints, ref sb);
            done = end;
            i = FirstUnsafe(text, end);
        }
        sb.Append(text[done..]);
        scratch = sb.Buffer;
        return sb.Written;
    }

    private static int FirstUnsafe(ReadOnlySpan<char> text, int from)
    {
        // Everything below U+0300 is NFC-stable and has combining class 0.
        int i = from;
        while (true)
        {
            int k = text[i..].IndexOfAnyExceptInRange('\0', '\u02FF');
            if (k < 0) return -1;
            i += k;
            if (IsUnsafeAt(text, i, out int width)) return i;
            i += width;
        }
    }

    private static bool IsUnsafeAt(ReadOnlySpan<char> text, int i, out int width)
    {
        char c = text[i];
        width = 1;
        byte f = s_bmpUnsafe[c];
        if (f != 2) return f != 0;
        if (i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
        {
            width = 2;
            return s_supplementaryUnsafe.Contains(char.ConvertToUtf32(c, text[i + 1]));
        }
        return false;
    }

    private static int LastSafeStart(ReadOnlySpan<char> text, int floor, int i)
    {
        // Walk back over unsafe characters; the safe one before them starts the region (it may compose).
        int j = i;
        while (j > floor)
        {
            int k = j - 1;
            if (char.IsLowSurrogate(text[k]) && k > floor && char.IsHighSurrogate(text[k - 1])) k--;
            if (!IsUnsafeAt(text, k, out _)) return k;
            j = k;
        }
        return floor;
    }

    private static int NextSafe(ReadOnlySpan<char> text, int i)
    {
        while (i < text.Length)
        {
            if (!IsUnsafeAt(text, i, out int width)) return i;
            i += width;
        }
        return text.Length;
    }

    private static void NormalizeRegion(ReadOnlySpan<char> region, List<int> cps, ref ScratchWriter output)
    {
        cps.Clear();
        for (int i = 0; i < region.Length; i++)
        {
            int cp = region[i];
            if (char.IsHighSurrogate(region[i]) && i + 1 < region.Length && char.IsLowSurrogate(region[i + 1]))
                cp = char.ConvertToUtf32(region[i], region[++i]);
            Decompose(cp, cps);
        }
        SortNonStarterRuns(CollectionsMarshal.AsSpan(cps));
        // Canonical composition: each character joins the last starter unless a character between them has a
        // combining class at least its own (blocked) or, for a starter, anything lies between them.
        int starterPos = 0;
        int lastClass = CombiningClass(cps[0]) == 0 ? 0 : 256;
        int count = 1;
        for (int i = 1; i < cps.Count; i++)
        {
            int cp = cps[i];
            int ccc = CombiningClass(cp);
            int composite = lastClass == 256 ? -1 : Compose(cps[starterPos], cp);
            if (composite >= 0 && (lastClass < ccc || lastClass == 0))
            {
                cps[starterPos] = composite;
                continue;
            }
            if (ccc == 0) starterPos = count;
            lastClass = ccc;
            cps[count++] = cp;
        }
        for (int i = 0; i < count; i++) output.AppendCodePoint(cps[i]);
    }

    /// <summary>
    /// Canonical ordering: a stable sort of each run of non-starters by combining class. A run can be as long as
    /// the text (a string of combining marks), so a long one that is out of order is sorted by counting (linear)
    /// rather than by insertion, which would cost k² moves.
    /// </summary>
    private static void SortNonStarterRuns(Span<int> cps)
    {
        const int InsertionLimit = 16;
        int i = 0;
        while (i < cps.Length)
        {
            if (CombiningClass(cps[i]) == 0) { i++; continue; }
            int start = i;
            bool ordered = true;
            int previous = CombiningClass(cps[i++]);
            while (i < cps.Length && CombiningClass(cps[i]) is int ccc && ccc != 0)
            {
                ordered &= previous <= ccc;
                previous = ccc;
                i++;
            }
            if (ordered) continue;
            var run = cps[start..i];
            if (run.Length <= InsertionLimit)
            {
                for (int k = 1; k < run.Length; k++)
                {
                    int cp = run[k], ccc = CombiningClass(cp), j = k;
                    for (; j > 0 && CombiningClass(run[j - 1]) > ccc; j--) run[j] = run[j - 1];
                    run[j] = cp;
                }
                continue;
            }
            SortByCounting(run);
        }
    }

    /// <summary>A counting sort by combining class: stable, and linear in the run's length.</summary>
    private static void SortByCounting(Span<int> run)
    {
        Span<int> starts = stackalloc int[257];
        starts.Clear();
        foreach (int cp in run) starts[CombiningClass(cp) + 1]++;
        for (int c = 1; c < 257; c++) starts[c] += starts[c - 1];
        int[] sorted = ArrayPool<int>.Shared.Rent(run.Length);
        foreach (int cp in run) sorted[starts[CombiningClass(cp)]++] = cp;
        sorted.AsSpan(0, run.Length).CopyTo(run);
        ArrayPool<int>.Shared.Return(sorted);
    }

    private static void Decompose(int cp, List<int> output)
    {
        int s = cp - SBase;
        if ((uint)s < SCount)
        {
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) output.Add(TBase + s % TCount);
            return;
        }
        if (s_decompositions.TryGetValue(cp, out var d))
        {
            Decompose(d.First, output);
            if (d.Second >= 0) Decompose(d.Second, output);
            return;
        }
        output.Add(cp);
    }

    private static int Compose(int a, int b)
    {
        int l = a - LBase, v = b - VBase;
        if ((uint)l < LCount && (uint)v < VCount) return SBase + (l * VCount + v) * TCount;
        int s = a - SBase, t = b - TBase;
        if ((uint)s < SCount && s % TCount == 0 && t > 0 && t < TCount) return a + t;
        return s_compositions.TryGetValue(Key(a, b), out int c) ? c : -1;
    }

    private ref struct ScratchWriter(char[]? buffer, int capacity)
    {
        public char[] Buffer = buffer != null && buffer.Length >= capacity ? buffer : new char[capacity];
        private int _length;

        public readonly ReadOnlySpan<char> Written => Buffer.AsSpan(0, _length);

        public void Append(ReadOnlySpan<char> s)
        {
            Ensure(s.Length);
            s.CopyTo(Buffer.AsSpan(_length));
            _length += s.Length;
        }

        public void AppendCodePoint(int cp)
        {
            Ensure(2);
            if (cp < 0x10000) Buffer[_length++] = (char)cp;
            else
            {
                cp -= 0x10000;
                Buffer[_length++] = (char)(0xD800 + (cp >> 10));
                Buffer[_length++] = (char)(0xDC00 + (cp & 0x3FF));
            }
        }

        private void Ensure(int more)
        {
            if (_length + more <= Buffer.Length) return;
            Array.Resize(ref Buffer, Math.Max(Buffer.Length * 2, _length + more));
        }
    }
}
