namespace QwenSharp.Grammar;

/// <summary>
/// One frame of a matcher stack, shared by every stack above it (a persistent linked list, as llama.cpp's grammar
/// stacks but over automaton states): <see cref="State"/> is where this frame stands in its rule's DFA, and the
/// parent is the caller's frame, positioned after the call. Equality is structural, with the hash built
/// incrementally so that comparing distinct stacks rarely walks them.
/// </summary>
internal sealed class StackNode : IEquatable<StackNode>
{
    /// <summary>The unknown rest of a stack, below the frame a token-mask cache entry is computed for.</summary>
    public static readonly StackNode Bottom = new(-1, null);

    public readonly int State;
    public readonly StackNode? Parent;
    public readonly int Hash;

    public StackNode(int state, StackNode? parent)
    {
        State = state;
        Parent = parent;
        Hash = HashCode.Combine(state, parent?.Hash ?? 0x5bd1e995);
    }

    public bool Equals(StackNode? other)
    {
        var a = this;
        var b = other;
        while (true)
        {
            if (ReferenceEquals(a, b)) return true;
            if (a is null || b is null || a.Hash != b.Hash || a.State != b.State) return false;
            a = a.Parent;
            b = b.Parent;
        }
    }

    public override bool Equals(object? obj) => obj is StackNode n && Equals(n);
    public override int GetHashCode() => Hash;
}
