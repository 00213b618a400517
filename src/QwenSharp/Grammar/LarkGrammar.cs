using System.Globalization;
using System.Text;

namespace QwenSharp.Grammar;

/// <summary>vLLM's EBNF / Lark grammars (guided_grammar in Lark form) translated to GBNF.</summary>
/// <remarks>
/// Rules (lowercase, with Lark's '?' and '!' markers, which do not change the language) and terminals (uppercase)
/// become GBNF rules; "literals", /regex/ (through <see cref="RegexParser"/>), "a".."z" ranges, ( ), [ ], ? * +,
/// ~ n and ~ n..m are written in GBNF; aliases (-> name) are dropped. %import of the common terminals listed in
/// <see cref="LarkCommonTerminals"/> is supported, and %ignore puts one ignored terminal, optionally, before every
/// token a rule uses and at the end of the text. The rule "start" is the root.
/// </remarks>
public static class LarkGrammar
{
    public static string ToGbnf(string lark)
    {
        ArgumentNullException.ThrowIfNull(lark);
        return new LarkTranslator(LarkStatements.Parse(lark)).Translate();
    }
}

/// <summary>Translates parsed Lark statements into one GBNF text.</summary>
internal sealed class LarkTranslator(IReadOnlyList<LarkStatement> statements)
{
    private readonly GbnfRuleSet _rules = new("");
    private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LarkStatement> _definitions = new(StringComparer.Ordinal);
    private readonly List<string> _ignored = [];
    private string? _ignoreRule;

    public string Translate()
    {
        _rules.ReserveExact("root");
        foreach (var statement in statements)
        {
            switch (statement.Kind)
            {
                case LarkStatementKind.Definition:
                    if (!_definitions.TryAdd(statement.Name, statement))
                        throw Error(statement, $"'{statement.Name}' is defined twice");
                    _names[statement.Name] = _rules.Reserve(statement.Name.Replace('_', '-'));
                    break;
                case LarkStatementKind.Import:
                    foreach (var (source, alias) in statement.Imports)
                    {
                        string body = LarkCommonTerminals.Body(source)
                            ?? throw Error(statement, $"%import of 'common.{source}' is not supported (supported: {string.Join(", ", LarkCommonTerminals.Names)})");
                        if (_names.ContainsKey(alias)) throw Error(statement, $"'{alias}' is defined twice");
                        _names[alias] = _rules.Reserve(alias.Replace('_', '-'));
                        _imported[alias] = body;
                    }
                    break;
                case LarkStatementKind.Ignore:
                    _ignored.Add(statement.Name);
                    break;
            }
        }
        if (!_definitions.ContainsKey("start")) throw new GrammarException("The Lark grammar has no 'start' rule.");
        foreach (var (alias, body) in _imported) _rules.Define(_names[alias], body);
        if (_ignored.Count > 0)
        {
            foreach (var name in _ignored)
                if (!_names.ContainsKey(name)) throw new GrammarException($"Lark %ignore names '{name}', which is not defined.");
            _ignoreRule = _rules.Reserve("ignored");
            // At most one ignored token before each token: (WS)* would let a run of spaces split many ways.
            _rules.Define(_ignoreRule, "( " + string.Join(" | ", _ignored.Select(n => _names[n])) + " )?");
        }
        foreach (var (name, statement) in _definitions)
        {
            bool terminal = LarkStatements.IsTerminalName(name);
            _rules.Define(_names[name], Expression(statement.Body, statement, terminal));
        }
        _rules.Define("root", _names["start"] + (_ignoreRule is null ? "" : " " + _ignoreRule));
        return _rules.Write();
    }

    private readonly Dictionary<string, string> _imported = new(StringComparer.Ordinal);

    private GrammarException Error(LarkStatement statement, string what) => new($"Lark grammar, line {statement.Line}: {what}.");

    /// <summary>An expression in GBNF. Inside rules, every token (terminal, literal, regex) may be preceded by
    /// the ignored terminals; inside terminals nothing is ignored.</summary>
    private string Expression(LarkNode node, LarkStatement statement, bool inTerminal)
    {
        string Token(string text) => inTerminal || _ignoreRule is null ? text : _ignoreRule + " " + text;
        switch (node)
        {
            case LarkNode.Alternatives a:
                return string.Join(" | ", a.Items.Select(i => Expression(i, statement, inTerminal)));
            case LarkNode.Sequence s:
                return s.Items.Count == 0 ? "\"\"" : string.Join(" ", s.Items.Select(i => Group(Expression(i, statement, inTerminal), i)));
            case LarkNode.Repeat r:
                {
                    string inner = "( " + Expression(r.Item, statement, inTerminal) + " )";
                    if (r.Max is int m && (m > RegexParser.MaxRepeat || r.Min > RegexParser.MaxRepeat))
                        throw Error(statement, $"repetition count {m} is beyond the limit {RegexParser.MaxRepeat}");
                    return (r.Min, r.Max) switch
                    {
                        (0, 1) => inner + "?",
                        (0, null) => inner + "*",
                        (1, null) => inner + "+",
                        (var a, int b) when a == b => inner + "{" + a.ToString(CultureInfo.InvariantCulture) + "}",
                        (var a, int b) => inner + "{" + a.ToString(CultureInfo.InvariantCulture) + "," + b.ToString(CultureInfo.InvariantCulture) + "}",
                        (var a, null) => inner + "{" + a.ToString(CultureInfo.InvariantCulture) + ",}",
                    };
                }
            case LarkNode.Literal l:
                return Token(GbnfText.Literal(l.Text));
            case LarkNode.Range g:
                return Token(CodePointSet.Of((g.From, g.To)).ToGbnfClass());
            case LarkNode.Regex x:
                try
                {
                    return Token("( " + RegexGbnfWriter.Write(RegexParser.Parse(x.Pattern), insideJsonString: false) + " )");
                }
                catch (GrammarException ex)
                {
                    throw Error(statement, ex.Message.TrimEnd('.'));
                }
            case LarkNode.Reference f:
                {
                    if (!_names.TryGetValue(f.Name, out var target)) throw Error(statement, $"'{f.Name}' is not defined");
                    bool isTerminal = LarkStatements.IsTerminalName(f.Name);
                    if (inTerminal && !isTerminal) throw Error(statement, $"terminal '{statement.Name}' uses the rule '{f.Name}'");
                    return isTerminal ? Token(target) : target;
                }
            default:
                throw new InvalidOperationException(node.GetType().Name);
        }
    }

    private static string Group(string text, LarkNode node) => node is LarkNode.Alternatives ? "( " + text + " )" : text;
}
