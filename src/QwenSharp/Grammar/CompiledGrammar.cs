using System.Collections.Concurrent;

namespace QwenSharp.Grammar;

/// <summary>
/// A grammar compiled against one vocabulary: immutable and thread-safe, shared by every sequence that uses the
/// same grammar text (see <see cref="GrammarCache"/>). Each sequence walks it with its own <see cref="GrammarMatcher"/>.
/// </summary>
public sealed class CompiledGrammar
{
    private readonly StateTokenMask?[] _masks;
    private readonly ConcurrentBag<TokenWalker> _walkers = [];

    private CompiledGrammar(GrammarAutomaton automaton, GrammarVocabulary vocabulary)
    {
        Automaton = automaton;
        Vocabulary = vocabulary;
        _masks = new StateTokenMask?[automaton.StateCount];
    }

    /// <summary>Compiles GBNF text (llama.cpp's grammar syntax). Throws <see cref="GrammarException"/> naming the
    /// rule, line and column of what is wrong (undefined rule, left recursion, a rule that derives no finite text, a limit).</summary>
    public static CompiledGrammar Compile(string gbnf, GrammarVocabulary vocabulary, string rootRule = "root")
    {
        ArgumentNullException.ThrowIfNull(gbnf);
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentNullException.ThrowIfNull(rootRule);
        return new CompiledGrammar(GrammarAutomaton.Build(gbnf, rootRule), vocabulary);
    }

    public GrammarVocabulary Vocabulary { get; }

    internal GrammarAutomaton Automaton { get; }

    /// <summary>Number of DFA states over all rules.</summary>
    public int StateCount => Automaton.StateCount;

    /// <summary>
    /// Computes the token-mask cache entry of every state that can top a stack, on all cores, so that no later mask
    /// pays for one. Optional: entries are otherwise computed on first use (lazily, by whichever matcher needs one).
    /// </summary>
    public void PrecomputeMasks()
    {
        var states = Enumerable.Range(0, Automaton.StateCount).Where(s => Automaton.HasBytes[s] && _masks[s] is null).ToArray();
        Parallel.ForEach(states, () => RentWalker(), (s, _, walker) =>
        {
            MaskOf(s, walker);
            return walker;
        }, ReturnWalker);
    }

    /// <summary>The cache entry of a state that reads bytes; computed once, the first caller's result kept.</summary>
    internal StateTokenMask MaskOf(int state, TokenWalker walker)
    {
        var m = Volatile.Read(ref _masks[state]);
        if (m is not null) return m;
        m = StateTokenMask.Compute(Automaton, Vocabulary, state, walker);
        return Interlocked.CompareExchange(ref _masks[state], m, null) ?? m;
    }

    /// <summary>Computes the missing cache entries of the stacks' tops, on several cores when more than one is missing
    /// (a position with many alternatives, e.g. a JSON value, meets several new states at once).</summary>
    internal void EnsureMasks(StackSet stacks, TokenWalker walker)
    {
        List<int>? missing = null;
        for (int k = 0; k < stacks.Count; k++)
        {
            int s = stacks[k].State;
            if (Volatile.Read(ref _masks[s]) is null && !(missing?.Contains(s) ?? false)) (missing ??= []).Add(s);
        }
        if (missing is null) return;
        if (missing.Count == 1)
        {
            MaskOf(missing[0], walker);
            return;
        }
        Parallel.ForEach(missing, () => RentWalker(), (s, _, w) =>
        {
            MaskOf(s, w);
            return w;
        }, ReturnWalker);
    }

    internal TokenWalker RentWalker() => _walkers.TryTake(out var w) ? w : new TokenWalker(Vocabulary.MaxTokenLength);

    internal void ReturnWalker(TokenWalker walker) => _walkers.Add(walker);
}

/// <summary>Compiled grammars cached by (vocabulary, text, root), so a schema sent with every request compiles once.</summary>
public sealed class GrammarCache(int capacity = 256)
{
    private readonly object _gate = new();
    private readonly Dictionary<(GrammarVocabulary, string, string), LinkedListNode<Entry>> _entries = [];
    private readonly LinkedList<Entry> _recent = new();

    public int Capacity { get; } = capacity >= 1 ? capacity
        : throw new ArgumentOutOfRangeException(nameof(capacity), $"Grammar cache capacity {capacity} must be at least 1.");

    public CompiledGrammar GetOrCompile(string gbnf, GrammarVocabulary vocabulary, string rootRule = "root")
    {
        ArgumentNullException.ThrowIfNull(gbnf);
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentNullException.ThrowIfNull(rootRule);
        var key = (vocabulary, gbnf, rootRule);
        Lazy<CompiledGrammar> lazy;
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var node))
            {
                _recent.Remove(node);
                _recent.AddFirst(node);
                lazy = node.Value.Grammar;
            }
            else
            {
                // Compiled outside the lock, once: concurrent requests for the same text wait on the same Lazy.
                lazy = new Lazy<CompiledGrammar>(() => CompiledGrammar.Compile(gbnf, vocabulary, rootRule));
                _entries[key] = _recent.AddFirst(new Entry(key, lazy));
                while (_entries.Count > Capacity)
                {
                    var last = _recent.Last!;
                    _recent.RemoveLast();
                    _entries.Remove(last.Value.Key);
                }
            }
        }
        try
        {
            return lazy.Value;
        }
        catch (GrammarException)
        {
            // A grammar that does not compile is not kept: the next request gets the same error afresh.
            lock (_gate)
                if (_entries.TryGetValue(key, out var node) && node.Value.Grammar == lazy)
                {
                    _recent.Remove(node);
                    _entries.Remove(key);
                }
            throw;
        }
    }

    private sealed record Entry((GrammarVocabulary, string, string) Key, Lazy<CompiledGrammar> Grammar);
}
