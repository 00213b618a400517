using System.Runtime.CompilerServices;
using System.Text;

namespace QwenSharp.Text;

/// <summary>Turns a merge rule's two spellings (UTF-8) into token ids (left, right, merged) without allocating,
/// and names the rule when a token is missing from the vocabulary. <paramref name="where"/> is called only to
/// build a message, with <c>whereArgument</c> (the rule's number), so callers need no closure per rule.</summary>
internal static class MergeResolver
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (int Left, int Right, int Merged) Resolve(VocabularyIndex vocab,
        ReadOnlySpan<byte> left, ReadOnlySpan<byte> right, Func<int, string> where, int whereArgument)
    {
        if (!vocab.TryGet(left, out int l))
            throw new FormatException($"{where(whereArgument)}: the merge's left token '{Encoding.UTF8.GetString(left)}' is not in the vocabulary.");
        if (!vocab.TryGet(right, out int r))
            throw new FormatException($"{where(whereArgument)}: the merge's right token '{Encoding.UTF8.GetString(right)}' is not in the vocabulary.");
        int length = left.Length + right.Length;
        Span<byte> both = length <= 1024 ? stackalloc byte[length] : new byte[length];
        left.CopyTo(both);
        right.CopyTo(both[left.Length..]);
        if (!vocab.TryGet(both, out int m))
            throw new FormatException($"{where(whereArgument)}: the merged token '{Encoding.UTF8.GetString(both)}' is not in the vocabulary.");
        return (l, r, m);
    }

    /// <summary>A rule written "left right": exactly two tokens separated by one space (merges.txt, GGUF,
    /// tokenizer.json before tokenizers 0.20).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (int Left, int Right, int Merged) Resolve(VocabularyIndex vocab,
        ReadOnlySpan<byte> line, Func<int, string> where, int whereArgument)
    {
        int space = line.IndexOf((byte)' ');
        if (space <= 0 || space == line.Length - 1 || line[(space + 1)..].Contains((byte)' '))
            throw new FormatException($"{where(whereArgument)}: '{Encoding.UTF8.GetString(line)}' is not a merge rule (two tokens separated by one space).");
        return Resolve(vocab, line[..space], line[(space + 1)..], where, whereArgument);
    }

    /// <summary>A "left right" rule held as a .NET string.</summary>
    public static (int Left, int Right, int Merged) Resolve(VocabularyIndex vocab,
        ReadOnlySpan<char> line, Func<int, string> where, int whereArgument)
    {
        Span<byte> buffer = stackalloc byte[1024];
        return Resolve(vocab, VocabularyIndex.Encode(line, buffer), where, whereArgument);
    }
}
