using System.Numerics;

namespace QwenSharp.Grammar;

/// <summary>
/// Where one sequence stands in a <see cref="CompiledGrammar"/>: which tokens may come next, and the advance by the
/// chosen one. Not thread-safe (one sequence, one thread at a time).
/// </summary>
/// <remarks>
/// The state is a set of stacks of DFA states (llama.cpp's grammar stacks, but over bytes), closed: every top reads a
/// byte, calls are pushed and finished frames popped. A mask is the union, over the stacks, of the cached tokens
/// their top accepts whatever lies below, plus the cached uncertain tokens that pass when run against the real stack.
/// </remarks>
public sealed class GrammarMatcher
{
    private readonly CompiledGrammar _grammar;
    private readonly GrammarAutomaton _a;
    private readonly GrammarVocabulary _vocab;
    private StackSet _stacks = new();
    private StackSet _scratchA = new(), _scratchB = new();
    private readonly TokenWalker _walker;
    private readonly ulong[] _mask;
    private readonly List<int> _passed = [];
    private readonly List<int> _statesDone = [];
    private bool _terminated;

    public GrammarMatcher(CompiledGrammar grammar)
    {
        ArgumentNullException.ThrowIfNull(grammar);
        _grammar = grammar;
        _a = grammar.Automaton;
        _vocab = grammar.Vocabulary;
        _walker = new TokenWalker(_vocab.MaxTokenLength);
        _mask = new ulong[(_vocab.Size + 63) >> 6];
        _stacks.AddClosed(_a, new StackNode(_a.RuleStart[_a.Root], null));
    }

    /// <summary>Sets bit id of <paramref name="allowed"/> (length ≥ ceil(Size/64)) for every token that may come next:
    /// tokens whose bytes continue the text within the grammar, and the end ids when <see cref="CanEnd"/>. Never empty.</summary>
    public void FillMask(Span<ulong> allowed)
    {
        int words = (_vocab.Size + 63) >> 6;
        if (allowed.Length < words)
            throw new ArgumentException($"Mask of {allowed.Length} words is shorter than the {words} the vocabulary of {_vocab.Size} ids needs.", nameof(allowed));
        allowed[..words].Clear();
        if (_terminated)
        {
            // Nothing may follow an end; the end ids keep the mask non-empty.
            SetEndIds(allowed);
            return;
        }
        _grammar.EnsureMasks(_stacks, _walker);
        _statesDone.Clear();
        for (int k = 0; k < _stacks.Count; k++)
        {
            var stack = _stacks[k];
            var entry = _grammar.MaskOf(stack.State, _walker);
            if (!_statesDone.Contains(stack.State))
            {
                _statesDone.Add(stack.State);
                if (entry.AcceptedBits is { } bits) Or(allowed, bits);
                else foreach (int id in entry.AcceptedIds!) allowed[id >> 6] |= 1UL << id;
            }
            int n = entry.Uncertain.Length;
            if (n == 0) continue;
            _passed.Clear();
            _walker.Walk(_a, _vocab, stack, default, entry.Uncertain, entry.UncertainLcp, n, _passed, null);
            var ids = _vocab.SortedIds;
            foreach (int i in _passed)
            {
                int id = ids[entry.Uncertain[i]];
                allowed[id >> 6] |= 1UL << id;
            }
        }
        if (CanEnd) SetEndIds(allowed);
    }

    /// <summary>Sets the logit of every token that may not come next to negative infinity.</summary>
    public void ApplyMask(Span<float> logits)
    {
        FillMask(_mask);
        int size = Math.Min(logits.Length, _vocab.Size);
        for (int w = 0; w < _mask.Length; w++)
        {
            ulong v = _mask[w];
            int start = w << 6;
            if (start >= size) break;
            int end = Math.Min(start + 64, size);
            if (v == ulong.MaxValue && end - start == 64) continue;
            if (v == 0)
            {
                logits[start..end].Fill(float.NegativeInfinity);
                continue;
            }
            ulong reject = ~v;
            while (reject != 0)
            {
                int i = start + BitOperations.TrailingZeroCount(reject);
                if (i >= end) break;
                logits[i] = float.NegativeInfinity;
                reject &= reject - 1;
            }
        }
        if (logits.Length > size) logits[size..].Fill(float.NegativeInfinity);
    }

    /// <summary>Advances by a token's bytes (an end id ends the text). False, with nothing changed, if the grammar does not allow it.</summary>
    public bool AcceptToken(int tokenId)
    {
        if (_terminated || (uint)tokenId >= (uint)_vocab.Size) return false;
        if (IsEndId(tokenId))
        {
            if (!CanEnd) return false;
            _terminated = true;
            return true;
        }
        var bytes = _vocab.TokenBytesById[tokenId];
        return bytes is { Length: > 0 } && AcceptBytes(bytes);
    }

    /// <summary>Advances by raw bytes (e.g. text already generated before the grammar applied). False, with nothing changed, if not allowed.</summary>
    public bool AcceptBytes(ReadOnlySpan<byte> bytes)
    {
        if (_terminated) return false;
        if (bytes.IsEmpty) return true;
        var from = _stacks;
        var into = _scratchA;
        foreach (byte b in bytes)
        {
            into.Step(_a, from, b);
            if (into.Count == 0 && !into.Completed) return false;
            from = into;
            into = ReferenceEquals(into, _scratchA) ? _scratchB : _scratchA;
        }
        // 'from' holds the result; the old stack set becomes scratch.
        var old = _stacks;
        _stacks = from;
        if (ReferenceEquals(from, _scratchA)) _scratchA = old;
        else _scratchB = old;
        return true;
    }

    /// <summary>The text so far is a complete sentence of the grammar: an end token may come next.</summary>
    public bool CanEnd => !_terminated && _stacks.Completed;

    /// <summary>Complete, and no byte may follow: only an end token may come next.</summary>
    public bool MustEnd => CanEnd && _stacks.Count == 0;

    /// <summary>An end token was accepted.</summary>
    public bool IsTerminated => _terminated;

    internal StackSet Stacks => _stacks;
    internal GrammarAutomaton Automaton => _a;

    private bool IsEndId(int id)
    {
        foreach (int e in _vocab.EndTokenIds) if (e == id) return true;
        return false;
    }

    private void SetEndIds(Span<ulong> allowed)
    {
        foreach (int id in _vocab.EndTokenIds) allowed[id >> 6] |= 1UL << id;
    }

    private static void Or(Span<ulong> into, ReadOnlySpan<ulong> from)
    {
        var a = System.Runtime.InteropServices.MemoryMarshal.Cast<ulong, Vector<ulong>>(into[..from.Length]);
        var b = System.Runtime.InteropServices.MemoryMarshal.Cast<ulong, Vector<ulong>>(from);
        for (int i = 0; i < a.Length; i++) a[i] |= b[i];
        for (int i = a.Length * Vector<ulong>.Count; i < from.Length; i++) into[i] |= from[i];
    }
}
