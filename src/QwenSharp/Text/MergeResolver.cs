using System.Runtime.CompilerServices;
namespace QwenSharp.Text;

/// <summary>Turns a merge rule's two spellings into token ids (left, right, merged) without allocating, and
/// names the rule when a token is missing from the vocabulary.</summary>
internal static class MergeResolver
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (int Left, int Right, int Merged) Resolve(VocabularyIndex vocab,
        ReadOnlySpan<char> left, ReadOnlySpan<char> right, Func<string> where)
    {
        if (!vocab.TryGet(left, out int l))
            throw new FormatException($"{where()}: the merge's left token '{left}' is not in the vocabulary.");
        if (!vocab.TryGet(right, out int r))
            throw new FormatException($"{where()}: the merge's right token '{right}' is not in the vocabulary.");
        int length = left.Length + right.Length;
        Span<char> both = length <= 256 ? stackalloc char[length] : new char[length];
        left.CopyTo(both);
        right.CopyTo(both[left.Length..]);
        if (!vocab.TryGet(both, out int m))
            throw new FormatException($"{where()}: the merged token '{both}' is not in the vocabulary.");
        return (l, r, m);
    }

    /// <summary>A rule written "left right": exactly two tokens separated by one space (merges.txt, GGUF).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (int Left, int Right, int Merged) Resolve(VocabularyIndex vocab,
        ReadOnlySpan<char> line, Func<string> where)
    {
        int space = line.IndexOf(' ');
        if (space <= 0 || space == line.Length - 1 || line[(space + 1)..].Contains(' '))
            throw new FormatException($"{where()}: '{line}' is not a merge rule (two tokens separated by one space).");
        return Resolve(vocab, line[..space], line[(space + 1)..], where);
    }
}
