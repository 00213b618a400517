namespace QwenSharp.Grammar;

/// <summary>
/// A set of Unicode scalar values as sorted, disjoint, non-adjacent inclusive ranges: what a regex class, an
/// escape such as \d or '.' stands for. Surrogates (U+D800–U+DFFF) are never members, since UTF-8 text cannot
/// hold them.
/// </summary>
internal sealed class CodePointSet
{
    private const int SurrogateLo = 0xD800, SurrogateHi = 0xDFFF;

    public IReadOnlyList<(int Lo, int Hi)> Ranges { get; }

    private CodePointSet(List<(int Lo, int Hi)> normalized) => Ranges = normalized;

    public static CodePointSet Empty { get; } = new([]);
    public static CodePointSet All { get; } = Of((0, GbnfText.MaxCodePoint));

    public static CodePointSet Of(params (int Lo, int Hi)[] ranges) => Normalize(ranges);
    public static CodePointSet Single(int c) => Of((c, c));

    public bool IsEmpty => Ranges.Count == 0;

    public bool Contains(int c)
    {
        foreach (var (lo, hi) in Ranges)
            if (c >= lo && c <= hi) return true;
        return false;
    }

    public CodePointSet Union(CodePointSet other) => Normalize(Ranges.Concat(other.Ranges));

    public CodePointSet Complement()
    {
        var result = new List<(int, int)>();
        int next = 0;
        foreach (var (lo, hi) in Ranges)
        {
            if (lo > next) result.Add((next, lo - 1));
            next = hi + 1;
        }
        if (next <= GbnfText.MaxCodePoint) result.Add((next, GbnfText.MaxCodePoint));
        return Normalize(result);
    }

    public CodePointSet Except(CodePointSet other) => Intersect(other.Complement());

    public CodePointSet Intersect(CodePointSet other)
    {
        var result = new List<(int, int)>();
        foreach (var (a, b) in Ranges)
            foreach (var (c, d) in other.Ranges)
            {
                int lo = Math.Max(a, c), hi = Math.Min(b, d);
                if (lo <= hi) result.Add((lo, hi));
            }
        return Normalize(result);
    }

    /// <summary>The set as a GBNF class: its ranges, or the negated complement where that needs fewer ranges.</summary>
    public string ToGbnfClass()
    {
        if (IsEmpty) throw new InvalidOperationException("An empty set has no GBNF class.");
        var complement = Complement();
        // The complement is written negated; it may drop the surrogates, which no UTF-8 text holds anyway.
        var negatedRanges = complement.Ranges;
        return negatedRanges.Count > 0 && negatedRanges.Count < Ranges.Count
            ? GbnfText.Class(negatedRanges, negated: true)
            : GbnfText.Class(Ranges);
    }

    private static CodePointSet Normalize(IEnumerable<(int Lo, int Hi)> ranges)
    {
        var pieces = new List<(int Lo, int Hi)>();
        foreach (var (lo, hi) in ranges)
        {
            int a = Math.Max(0, lo), b = Math.Min(GbnfText.MaxCodePoint, hi);
            if (a > b) continue;
            // Cut out the surrogates.
            if (a < SurrogateLo && b >= SurrogateLo) { pieces.Add((a, SurrogateLo - 1)); a = SurrogateLo; }
            if (a >= SurrogateLo && a <= SurrogateHi) a = SurrogateHi + 1;
            if (a <= b) pieces.Add((a, b));
        }
        pieces.Sort((x, y) => x.Lo.CompareTo(y.Lo));
        var merged = new List<(int Lo, int Hi)>();
        foreach (var p in pieces)
        {
            if (merged.Count > 0 && p.Lo <= merged[^1].Hi + 1)
                merged[^1] = (merged[^1].Lo, Math.Max(merged[^1].Hi, p.Hi));
            else merged.Add(p);
        }
        return new CodePointSet(merged);
    }
}
