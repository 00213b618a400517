namespace QwenSharp.Grammar;

/// <summary>
/// One rule as a Thompson NFA over bytes: byte-range edges (code points spelt as UTF-8 sequences), rule-reference
/// edges and epsilon edges. Repetitions are unrolled inside the rule (loops stay loops, bounds become copies); an
/// item too large to copy many times is hoisted into a rule of its own (<paramref name="hoist"/>) and referenced.
/// </summary>
internal sealed class RuleNfa
{
    /// <summary>Most NFA states one rule may take (a grammar beyond it is refused).</summary>
    public const int MaxStates = 400_000;

    /// <summary>Largest item copy count × item size unrolled in place before the item becomes a rule of its own.</summary>
    private const int InlineBudget = 2048;

    public readonly List<List<int>> Epsilon = [];
    public readonly List<List<(byte Lo, byte Hi, int To)>> Bytes = [];
    public readonly List<List<(int Rule, int To)>> Refs = [];
    public int Start, Accept;

    private readonly string _text;
    private readonly string _ruleName;
    private readonly Func<string, int> _ruleIndex;
    private readonly Func<GbnfExpr, int> _hoist;
    private readonly Dictionary<string, int> _inlined;
    private readonly Func<string, GbnfExpr> _bodyOf;
    private int _inlineDepth;

    private RuleNfa(string text, string ruleName, Func<string, int> ruleIndex, Func<GbnfExpr, int> hoist,
        Dictionary<string, int> inlined, Func<string, GbnfExpr> bodyOf)
    {
        _inlined = inlined;
        _bodyOf = bodyOf;
        _text = text;
        _ruleName = ruleName;
        _ruleIndex = ruleIndex;
        _hoist = hoist;
    }

    /// <param name="ruleIndex">Index of a rule by name (the caller has checked every name is defined).</param>
    /// <param name="hoist">Makes a new rule of an expression and returns its index.</param>
    /// <param name="inlined">Rules copied in place of a call (see <see cref="RuleInlining"/>), with their expanded sizes.</param>
    public static RuleNfa Build(string text, string ruleName, GbnfExpr body, Func<string, int> ruleIndex, Func<GbnfExpr, int> hoist,
        Dictionary<string, int> inlined, Func<string, GbnfExpr> bodyOf)
    {
        var nfa = new RuleNfa(text, ruleName, ruleIndex, hoist, inlined, bodyOf);
        nfa.Start = nfa.NewState();
        nfa.Accept = nfa.Emit(body, nfa.Start);
        return nfa;
    }

    public int Count => Epsilon.Count;

    private int NewState()
    {
        if (Epsilon.Count >= MaxStates)
            throw new GrammarException($"Rule '{_ruleName}' needs more than {MaxStates} automaton states (repetition bounds or classes too large).");
        Epsilon.Add([]);
        Bytes.Add([]);
        Refs.Add([]);
        return Epsilon.Count - 1;
    }

    /// <summary>Adds states and edges for <paramref name="e"/> starting at <paramref name="from"/>; returns its end state.</summary>
    private int Emit(GbnfExpr e, int from)
    {
        switch (e)
        {
            case GbnfLiteral lit:
            {
                Span<byte> buf = stackalloc byte[4];
                int cur = from;
                foreach (int cp in lit.CodePoints)
                {
                    if (cp is >= 0xD800 and <= 0xDFFF)
                        throw new GrammarException($"GBNF error at {GbnfParser.Where(_text, lit.Position)}: literal holds the surrogate U+{cp:X4}, which has no UTF-8 form.");
                    int n = Utf8Ranges.Encode(cp, buf);
                    for (int i = 0; i < n; i++)
                    {
                        int next = NewState();
                        Bytes[cur].Add((buf[i], buf[i], next));
                        cur = next;
                    }
                }
                return cur;
            }
            case GbnfCharClass cls:
            {
                int to = NewState();
                var seqs = new List<(byte Lo, byte Hi)[]>();
                foreach (var (lo, hi) in Utf8Ranges.Normalize(cls.Ranges, cls.Negated))
                    Utf8Ranges.Sequences(lo, hi, seqs);
                if (seqs.Count == 0)
                    throw new GrammarException($"GBNF error at {GbnfParser.Where(_text, cls.Position)}: character class matches no character.");
                foreach (var seq in seqs)
                {
                    int cur = from;
                    for (int i = 0; i < seq.Length; i++)
                    {
                        int next = i == seq.Length - 1 ? to : NewState();
                        Bytes[cur].Add((seq[i].Lo, seq[i].Hi, next));
                        cur = next;
                    }
                }
                return to;
            }
            case GbnfRuleRef r when _inlined.ContainsKey(r.Name) && _inlineDepth < RuleInlining.MaxInlineDepth:
            {
                _inlineDepth++;
                int end = Emit(_bodyOf(r.Name), from);
                _inlineDepth--;
                return end;
            }
            case GbnfRuleRef r:
            {
                int to = NewState();
                Refs[from].Add((_ruleIndex(r.Name), to));
                return to;
            }
            case GbnfSequence seq:
            {
                int cur = from;
                foreach (var item in seq.Items) cur = Emit(item, cur);
                return cur;
            }
            case GbnfChoice choice:
            {
                int to = NewState();
                foreach (var alt in choice.Alternatives)
                {
                    int s = NewState();
                    Epsilon[from].Add(s);
                    Epsilon[Emit(alt, s)].Add(to);
                }
                return to;
            }
            case GbnfRepeat rep:
                return EmitRepeat(rep, from);
            default:
                throw new InvalidOperationException($"Unknown GBNF node {e.GetType().Name}.");
        }
    }

    private int EmitRepeat(GbnfRepeat rep, int from)
    {
        var item = rep.Item;
        int copies = rep.Max == -1 ? rep.Min + 1 : rep.Max;
        int hoisted = item is not GbnfRuleRef && (long)RuleInlining.Size(item, n => _inlined.TryGetValue(n, out int z) ? z : 1) * copies > InlineBudget ? _hoist(item) : -1;
        int EmitItem(int at)
        {
            if (hoisted < 0) return Emit(item, at);
            int to = NewState();
            Refs[at].Add((hoisted, to));
            return to;
        }
        int cur = from;
        for (int i = 0; i < rep.Min; i++) cur = EmitItem(cur);
        if (rep.Max == -1)
        {
            // Loop head: the body starts and ends here, and the repetition may stop here.
            int head = NewState();
            Epsilon[cur].Add(head);
            Epsilon[EmitItem(head)].Add(head);
            return head;
        }
        if (rep.Max == rep.Min) return cur;
        int end = NewState();
        for (int i = rep.Min; i < rep.Max; i++)
        {
            Epsilon[cur].Add(end);
            cur = EmitItem(cur);
        }
        Epsilon[cur].Add(end);
        return end;
    }
}
