namespace QwenSharp.Grammar;

/// <summary>
/// Code-point ranges as UTF-8 byte-range sequences, the way regex engines compile Unicode classes to byte automata
/// (e.g. Rust regex-syntax's Utf8Sequences): a range is split where the encoded length changes (0x7F, 0x7FF, 0xFFFF),
/// surrogates D800–DFFF are dropped (they have no UTF-8 form), and each part is split further until every byte
/// position ranges independently, so [lo, hi] becomes a few sequences of (byte lo, byte hi) pairs.
/// </summary>
internal static class Utf8Ranges
{
    public const int MaxCodePoint = 0x10FFFF;

    /// <summary>The union of <paramref name="ranges"/> (or its complement within the scalar values), sorted and merged.</summary>
    public static List<(int Lo, int Hi)> Normalize(IEnumerable<(int Lo, int Hi)> ranges, bool negated)
    {
        var sorted = ranges.OrderBy(r => r.Lo).ToList();
        var merged = new List<(int Lo, int Hi)>();
        foreach (var (lo, hi) in sorted)
        {
            if (merged.Count > 0 && lo <= merged[^1].Hi + 1)
                merged[^1] = (merged[^1].Lo, Math.Max(merged[^1].Hi, hi));
            else merged.Add((lo, hi));
        }
        if (!negated) return merged;
        var complement = new List<(int, int)>();
        int next = 0;
        foreach (var (lo, hi) in merged)
        {
            if (lo > next) complement.Add((next, lo - 1));
            next = hi + 1;
        }
        if (next <= MaxCodePoint) complement.Add((next, MaxCodePoint));
        return complement;
    }

    /// <summary>Byte-range sequences whose union is exactly the UTF-8 encodings of the scalar values in [lo, hi].</summary>
    public static void Sequences(int lo, int hi, List<(byte Lo, byte Hi)[]> output)
    {
        // Surrogates have no encoding: cut them out first.
        if (lo <= 0xDFFF && hi >= 0xD800)
        {
            if (lo < 0xD800) Sequences(lo, 0xD7FF, output);
            if (hi > 0xDFFF) Sequences(0xE000, hi, output);
            return;
        }
        Span<byte> ea = stackalloc byte[4], eb = stackalloc byte[4];
        var pending = new Stack<(int, int)>();
        pending.Push((lo, hi));
        while (pending.Count > 0)
        {
            var (a, b) = pending.Pop();
            bool split = false;
            // Split where the encoded length changes.
            foreach (int boundary in (ReadOnlySpan<int>)[0x7F, 0x7FF, 0xFFFF])
            {
                if (a <= boundary && b > boundary)
                {
                    pending.Push((boundary + 1, b));
                    pending.Push((a, boundary));
                    split = true;
                    break;
                }
            }
            if (split) continue;
            if (b <= 0x7F)
            {
                output.Add([((byte)a, (byte)b)]);
                continue;
            }
            int n = b <= 0x7FF ? 2 : b <= 0xFFFF ? 3 : 4;
            // Split until the trailing 6-bit groups of a and b span their full range where the leading ones differ.
            for (int i = 1; i < n; i++)
            {
                int m = (1 << (6 * i)) - 1;
                if ((a & ~m) != (b & ~m))
                {
                    if ((a & m) != 0)
                    {
                        pending.Push(((a | m) + 1, b));
                        pending.Push((a, a | m));
                        split = true;
                        break;
                    }
                    if ((b & m) != m)
                    {
                        pending.Push((b & ~m, b));
                        pending.Push((a, (b & ~m) - 1));
                        split = true;
                        break;
                    }
                }
            }
            if (split) continue;
            Encode(a, ea);
            Encode(b, eb);
            var seq = new (byte, byte)[n];
            for (int i = 0; i < n; i++) seq[i] = (ea[i], eb[i]);
            output.Add(seq);
        }
    }

    /// <summary>Writes the UTF-8 encoding of a scalar value; returns its length.</summary>
    public static int Encode(int cp, Span<byte> into)
    {
        if (cp < 0x80) { into[0] = (byte)cp; return 1; }
        if (cp < 0x800) { into[0] = (byte)(0xC0 | cp >> 6); into[1] = (byte)(0x80 | cp & 0x3F); return 2; }
        if (cp < 0x10000)
        {
            into[0] = (byte)(0xE0 | cp >> 12); into[1] = (byte)(0x80 | cp >> 6 & 0x3F); into[2] = (byte)(0x80 | cp & 0x3F);
            return 3;
        }
        into[0] = (byte)(0xF0 | cp >> 18); into[1] = (byte)(0x80 | cp >> 12 & 0x3F);
        into[2] = (byte)(0x80 | cp >> 6 & 0x3F); into[3] = (byte)(0x80 | cp & 0x3F);
        return 4;
    }
}
