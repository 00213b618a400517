namespace QwenSharp.Grammar;

/// <summary>
/// A set of matcher stacks whose top frames can read a byte (calls already pushed, finished frames already popped),
/// plus whether some path popped its last frame (<see cref="Completed"/>: the text may end here) or popped into
/// <see cref="StackNode.Bottom"/> (<see cref="Escaped"/>: the rest depends on frames a cache entry cannot see).
/// Reused between steps to keep the hot loops free of allocation beyond the new frames.
/// </summary>
internal sealed class StackSet
{
    private readonly List<StackNode> _items = [];
    private readonly HashSet<StackNode> _index = [];
    private readonly Stack<StackNode> _pending = new();
    private readonly List<StackNode> _expanded = [];

    public bool Completed;
    public bool Escaped;

    public int Count => _items.Count;
    public StackNode this[int i] => _items[i];
    public bool IsDead => _items.Count == 0 && !Completed && !Escaped;

    public void Clear()
    {
        _items.Clear();
        _index.Clear();
        Completed = false;
        Escaped = false;
    }

    public void AddTop(StackNode n)
    {
        if (_items.Count < 8)
        {
            foreach (var m in _items)
                if (m.Equals(n)) return;
            _items.Add(n);
            if (_items.Count == 8) foreach (var m in _items) _index.Add(m);
            return;
        }
        if (_index.Add(n)) _items.Add(n);
    }

    /// <summary>Adds <paramref name="seed"/> after pushing the calls its top may make and popping frames that may end.</summary>
    public void AddClosed(GrammarAutomaton a, StackNode seed)
    {
        // Fast path: a frame that only reads bytes.
        int s0 = seed.State;
        if (!a.Final[s0] && a.RefOffsets[s0] == a.RefOffsets[s0 + 1])
        {
            AddTop(seed);
            return;
        }
        _pending.Clear();
        _expanded.Clear();
        _pending.Push(seed);
        while (_pending.Count > 0)
        {
            var n = _pending.Pop();
            // Without left recursion this terminates; the visited list only cuts repeated work.
            bool seen = false;
            foreach (var m in _expanded)
                if (m.Equals(n)) { seen = true; break; }
            if (seen) continue;
            _expanded.Add(n);
            int s = n.State;
            if (a.HasBytes[s]) AddTop(n);
            for (int k = a.RefOffsets[s]; k < a.RefOffsets[s + 1]; k++)
                _pending.Push(new StackNode(a.RuleStart[a.RefRule[k]], new StackNode(a.RefTarget[k], n.Parent)));
            if (a.Final[s])
            {
                if (n.Parent is null) Completed = true;
                else if (ReferenceEquals(n.Parent, StackNode.Bottom)) Escaped = true;
                else _pending.Push(n.Parent);
            }
        }
    }

    /// <summary>This set := the closed stacks reached from <paramref name="from"/> by reading <paramref name="b"/>.</summary>
    public void Step(GrammarAutomaton a, StackSet from, byte b)
    {
        Clear();
        int cls = a.ByteClass[b], classes = a.ClassCount;
        var next = a.Next;
        foreach (var n in from._items)
        {
            int t = next[n.State * classes + cls];
            if (t >= 0) AddClosed(a, new StackNode(t, n.Parent));
        }
    }
}
