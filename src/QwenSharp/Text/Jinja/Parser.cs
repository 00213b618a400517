namespace QwenSharp.Text.Jinja;

/// <summary>
/// Builds the syntax tree from tokens following Jinja2's parser (jinja2/parser.py): the statements chat
/// templates use (if/elif/else, for with filter and else, set, set-block, macro, with, break/continue,
/// Hugging Face's generation block). Jinja2 tags this interpreter does not run (extends, include, import,
/// call, filter…) fail here with their line, so no template is rendered approximately.
/// </summary>
internal sealed partial class Parser
{
    /// <summary>Tags Jinja2 knows that need a loader or features outside chat templates.</summary>
    private static readonly HashSet<string> UnsupportedTags =
        ["extends", "block", "include", "import", "from", "call", "filter", "autoescape", "do", "trans", "pluralize", "debug"];

    private readonly List<Token> _tokens;
    private readonly int _maxDepth;
    private int _index;
    private int _loopDepth;

    private Parser(List<Token> tokens, int maxDepth)
    {
        _tokens = tokens;
        _maxDepth = maxDepth;
    }

    /// <param name="maxDepth">how deeply the syntax tree may nest (TemplateLimits.MaxDepth)</param>
    public static IReadOnlyList<Stmt> Parse(string source, int maxDepth)
    {
        var parser = new Parser(Lexer.Tokenize(source), maxDepth);
        var body = parser.ParseBody([], "", 0).Body;
        SyntaxDepth.Check(body, maxDepth);
        return body;
    }

    private Token Current => _tokens[_index];
    private Token PeekAt(int offset) => _tokens[Math.Min(_index + offset, _tokens.Count - 1)];
    private Token Advance() => _tokens[_index++];

    private static TemplateException Error(string message, Token at) => TemplateException.Syntax(message, at.Line);

    private Token Expect(TokenKind kind, string? text = null)
    {
        var t = Current;
        if (t.Kind != kind || (text != null && t.Text != text))
        {
            string wanted = kind switch
            {
                TokenKind.BlockEnd => "'%}'",
                TokenKind.VariableEnd => "'}}'",
                TokenKind.Name when text == null => "a name",
                _ => $"'{text}'",
            };
            throw Error($"expected {wanted}, got {t}", t);
        }
        return Advance();
    }

    private void ExpectName(string name) => Expect(TokenKind.Name, name);

    /// <summary>Statements up to a block tag named in <paramref name="endTags"/>; the tag's name is consumed
    /// and returned, the rest of that tag is left to the caller.</summary>
    private (List<Stmt> Body, string? EndTag) ParseBody(string[] endTags, string openTag, int openLine)
    {
        var body = new List<Stmt>();
        while (true)
        {
            var t = Current;
            switch (t.Kind)
            {
                case TokenKind.Data:
                    body.Add(new TextStmt(t.Text, t.Line));
                    Advance();
                    break;
                case TokenKind.VariableBegin:
                {
                    Advance();
                    var value = ParseTuple();
                    Expect(TokenKind.VariableEnd);
                    body.Add(new PrintStmt(value, t.Line));
                    break;
                }
                case TokenKind.BlockBegin:
                {
                    var name = PeekAt(1);
                    if (name.Kind == TokenKind.Name && Array.IndexOf(endTags, name.Text) >= 0)
                    {
                        _index += 2;
                        return (body, name.Text);
                    }
                    Advance();
                    Enter(t);
                    body.Add(ParseStatement(endTags, openTag));
                    _nesting--;
                    break;
                }
                case TokenKind.End:
                    if (endTags.Length > 0)
                        throw Error($"unexpected end of template: the '{openTag}' tag opened on line {openLine} is never closed " +
                                    $"(expected {string.Join(" or ", endTags.Select(e => $"'{{% {e} %}}'"))})", t);
                    return (body, null);
                default:
                    throw Error($"unexpected {t}", t);
            }
        }
    }

    private Stmt ParseStatement(string[] endTags, string openTag)
    {
        var t = Current;
        if (t.Kind != TokenKind.Name) throw Error($"expected a tag name after '{{%', got {t}", t);
        switch (t.Text)
        {
            case "if": return ParseIf();
            case "for": return ParseFor();
            case "set": return ParseSet();
            case "macro": return ParseMacro();
            case "with": return ParseWith();
            case "generation":
            {
                Advance();
                Expect(TokenKind.BlockEnd);
                var (body, _) = ParseBody(["endgeneration"], "generation", t.Line);
                Expect(TokenKind.BlockEnd);
                return new BlockStmt(body, t.Line);
            }
            case "break" or "continue":
                Advance();
                if (_loopDepth == 0) throw Error($"'{t.Text}' outside of a for loop", t);
                Expect(TokenKind.BlockEnd);
                return t.Text == "break" ? new BreakStmt(t.Line) : new ContinueStmt(t.Line);
        }
        if (UnsupportedTags.Contains(t.Text))
            throw TemplateException.Unsupported($"the '{{% {t.Text} %}}' tag", t.Line);
        string hint = endTags.Length > 0
            ? $"; the innermost open tag is '{openTag}', closed by {string.Join(" or ", endTags.Select(e => $"'{e}'"))}"
            : "";
        throw Error($"encountered unknown tag '{t.Text}'{hint}", t);
    }

    private IfStmt ParseIf()
    {
        var start = Advance();
        var branches = new List<(Expr, IReadOnlyList<Stmt>)>();
        IReadOnlyList<Stmt>? elseBody = null;
        var test = ParseTuple(withCondExpr: false);
        while (true)
        {
            Expect(TokenKind.BlockEnd);
            var (body, end) = ParseBody(["elif", "else", "endif"], "if", start.Line);
            branches.Add((test, body));
            if (end == "elif")
            {
                test = ParseTuple(withCondExpr: false);
                continue;
            }
            if (end == "else")
            {
                Expect(TokenKind.BlockEnd);
                (elseBody, _) = ParseBody(["endif"], "if", start.Line);
            }
            Expect(TokenKind.BlockEnd);
            return new IfStmt(branches, elseBody, start.Line);
        }
    }

    private ForStmt ParseFor()
    {
        var start = Advance();
        var target = ParseAssignTarget(withNamespace: false);
        ExpectName("in");
        var iterable = ParseTuple(withCondExpr: false, extraEnd: "recursive");
        Expr? filter = null;
        if (Current.IsName("if"))
        {
            Advance();
            filter = ParseExpression();
        }
        if (Current.IsName("recursive")) throw TemplateException.Unsupported("recursive for loops", Current.Line);
        Expect(TokenKind.BlockEnd);
        _loopDepth++;
        var (body, end) = ParseBody(["endfor", "else"], "for", start.Line);
        _loopDepth--;
        IReadOnlyList<Stmt>? elseBody = null;
        if (end == "else")
        {
            Expect(TokenKind.BlockEnd);
            (elseBody, _) = ParseBody(["endfor"], "for", start.Line);
        }
        Expect(TokenKind.BlockEnd);
        return new ForStmt(target, iterable, filter, body, elseBody, start.Line);
    }

    private Stmt ParseSet()
    {
        var start = Advance();
        var target = ParseAssignTarget(withNamespace: true);
        if (Current.IsOperator("="))
        {
            Advance();
            var value = ParseTuple();
            Expect(TokenKind.BlockEnd);
            return new SetStmt(target, value, start.Line);
        }
        var filters = new List<FilterExpr>();
        while (Current.IsOperator("|"))
            filters.Add((FilterExpr)ParseFilter(new LiteralExpr(null, Current.Line)));
        Expect(TokenKind.BlockEnd);
        var (body, _) = ParseBody(["endset"], "set", start.Line);
        Expect(TokenKind.BlockEnd);
        return new SetBlockStmt(target, body, filters, start.Line);
    }

    private MacroStmt ParseMacro()
    {
        var start = Advance();
        string name = Expect(TokenKind.Name).Text;
        Expect(TokenKind.Operator, "(");
        var parameters = new List<(string, Expr?)>();
        bool anyDefault = false;
        while (!Current.IsOperator(")"))
        {
            if (parameters.Count > 0) Expect(TokenKind.Operator, ",");
            if (Current.IsOperator(")")) break;
            string p = Expect(TokenKind.Name).Text;
            Expr? fallback = null;
            if (Current.IsOperator("="))
            {
                Advance();
                fallback = ParseExpression();
                anyDefault = true;
            }
            else if (anyDefault)
                throw Error($"parameter '{p}' without a default follows one with a default", Current);
            parameters.Add((p, fallback));
        }
        Advance();
        Expect(TokenKind.BlockEnd);
        int depth = _loopDepth;
        _loopDepth = 0;
        var (body, _) = ParseBody(["endmacro"], "macro", start.Line);
        _loopDepth = depth;
        Expect(TokenKind.BlockEnd);
        return new MacroStmt(name, parameters, body, start.Line);
    }

    private WithStmt ParseWith()
    {
        var start = Advance();
        var assignments = new List<(AssignTarget, Expr)>();
        while (Current.Kind != TokenKind.BlockEnd)
        {
            if (assignments.Count > 0) Expect(TokenKind.Operator, ",");
            var target = ParseAssignTarget(withNamespace: false);
            Expect(TokenKind.Operator, "=");
            assignments.Add((target, ParseExpression()));
        }
        Advance();
        var (body, _) = ParseBody(["endwith"], "with", start.Line);
        Expect(TokenKind.BlockEnd);
        return new WithStmt(assignments, body, start.Line);
    }

    /// <summary>A name, <c>ns.attr</c> (set only), or names separated by commas, optionally in parentheses.</summary>
    private AssignTarget ParseAssignTarget(bool withNamespace)
    {
        var t = Current;
        if (withNamespace && t.Kind == TokenKind.Name && PeekAt(1).IsOperator("."))
        {
            Advance();
            Advance();
            return new AttributeTarget(t.Text, Expect(TokenKind.Name).Text, t.Line);
        }
        var items = new List<AssignTarget>();
        bool tuple = false;
        while (true)
        {
            items.Add(ParseTargetItem());
            if (!Current.IsOperator(",")) break;
            Advance();
            tuple = true;
            if (Current.Kind != TokenKind.Name && !Current.IsOperator("(")) break;
        }
        return tuple ? new TupleTarget(items, t.Line) : items[0];
    }

    private AssignTarget ParseTargetItem()
    {
        var t = Current;
        if (t.IsOperator("("))
        {
            Advance();
            Enter(t);
            var inner = new List<AssignTarget>();
            while (!Current.IsOperator(")"))
            {
                if (inner.Count > 0) Expect(TokenKind.Operator, ",");
                if (Current.IsOperator(")")) break;
                inner.Add(ParseTargetItem());
            }
            Advance();
            _nesting--;
            return new TupleTarget(inner, t.Line);
        }
        if (t.Kind != TokenKind.Name) throw Error($"can't assign to {t}", t);
        if (t.Text is "true" or "false" or "none" or "True" or "False" or "None")
            throw Error($"can't assign to the constant '{t.Text}'", t);
        Advance();
        return new NameTarget(t.Text, t.Line);
    }
}
