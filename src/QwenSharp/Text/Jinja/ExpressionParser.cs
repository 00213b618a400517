using System.Globalization;
using System.Numerics;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// Expressions, with Jinja2's precedence from loosest to tightest: inline if/else, or, and, not,
/// comparisons and <c>in</c>, + -, ~, * / // %, **, unary - +, then postfix (. [] ()) and filters/tests,
/// so <c>messages|length - 1</c> is <c>(messages|length) - 1</c>.
/// </summary>
internal sealed partial class Parser
{
    private static readonly HashSet<string> CompareOps = ["==", "!=", "<", "<=", ">", ">="];

    private bool IsTupleEnd(string? extraEnd) =>
        Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd or TokenKind.End || Current.IsOperator(")")
        || (extraEnd != null && Current.IsName(extraEnd));

    /// <summary>An expression, or several separated by commas forming a tuple (<c>{{ a, b }}</c>, <c>(1, 2)</c>).</summary>
    private Expr ParseTuple(bool withCondExpr = true, string? extraEnd = null, bool explicitParentheses = false)
    {
        int line = Current.Line;
        var items = new List<Expr>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0) Expect(TokenKind.Operator, ",");
            if (IsTupleEnd(extraEnd)) break;
            if (withCondExpr) items.Add(ParseExpression());
            else
            {
                Enter(Current);
                items.Add(ParseOr());
                _nesting--;
            }
            if (Current.IsOperator(",")) isTuple = true;
            else break;
        }
        if (!isTuple)
        {
            if (items.Count > 0) return items[0];
            if (!explicitParentheses) throw Error($"expected an expression, got {Current}", Current);
        }
        return new TupleExpr(items, line);
    }

    private int _nesting;

    /// <summary>One level deeper in the parser's recursion (brackets, parentheses, nested tags): refused past
    /// MaxDepth so that a hostile template cannot overflow the stack. Chains the parser builds in a loop
    /// (1+1+…) are measured afterwards by <see cref="SyntaxDepth"/>.</summary>
    private void Enter(Token at)
    {
        if (++_nesting > _maxDepth)
            throw TemplateException.Limit($"the template nests deeper than {_maxDepth} levels (TemplateLimits.MaxDepth)", at.Line);
    }

    private Expr ParseExpression()
    {
        Enter(Current);
        try
        {
            return ParseConditional();
        }
        finally
        {
            _nesting--;
        }
    }

    private Expr ParseConditional()
    {
        var expr = ParseOr();
        while (Current.IsName("if"))
        {
            int line = Advance().Line;
            var test = ParseOr();
            Expr? otherwise = null;
            if (Current.IsName("else"))
            {
                Advance();
                otherwise = ParseExpression();
            }
            expr = new ConditionalExpr(test, expr, otherwise, line);
        }
        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            int line = Advance().Line;
            left = new BinaryExpr("or", left, ParseAnd(), line);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            int line = Advance().Line;
            left = new BinaryExpr("and", left, ParseNot(), line);
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (Current.IsName("not"))
        {
            Enter(Current);
            int line = Advance().Line;
            var operand = ParseNot();
            _nesting--;
            return new UnaryExpr("not", operand, line);
        }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        int line = Current.Line;
        var first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && CompareOps.Contains(Current.Text))
            {
                string op = Advance().Text;
                rest.Add((op, ParseMath1()));
            }
            else if (Current.IsName("in"))
            {
                Advance();
                rest.Add(("in", ParseMath1()));
            }
            else if (Current.IsName("not") && PeekAt(1).IsName("in"))
            {
                _index += 2;
                rest.Add(("notin", ParseMath1()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, line);
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.IsOperator("+") || Current.IsOperator("-"))
        {
            var op = Advance();
            left = new BinaryExpr(op.Text, left, ParseConcat(), op.Line);
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMath2();
        while (Current.IsOperator("~"))
        {
            var op = Advance();
            left = new BinaryExpr("~", left, ParseMath2(), op.Line);
        }
        return left;
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (Current.Kind == TokenKind.Operator && Current.Text is "*" or "/" or "//" or "%")
        {
            var op = Advance();
            left = new BinaryExpr(op.Text, left, ParsePow(), op.Line);
        }
        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary();
        while (Current.IsOperator("**"))
        {
            var op = Advance();
            left = new BinaryExpr("**", left, ParseUnary(), op.Line);
        }
        return left;
    }

    private Expr ParseUnary(bool withFilter = true)
    {
        var t = Current;
        Expr node;
        if (t.IsOperator("-") || t.IsOperator("+"))
        {
            Advance();
            Enter(t);
            node = new UnaryExpr(t.Text, ParseUnary(withFilter: false), t.Line);
            _nesting--;
        }
        else node = ParsePrimary();
        node = ParsePostfix(node);
        return withFilter ? ParseFilterExpr(node) : node;
    }

    private Expr ParsePrimary()
    {
        var t = Current;
        switch (t.Kind)
        {
            case TokenKind.Name:
                Advance();
                return t.Text switch
                {
                    "true" or "True" => new LiteralExpr(true, t.Line),
                    "false" or "False" => new LiteralExpr(false, t.Line),
                    "none" or "None" => new LiteralExpr(null, t.Line),
                    _ => new NameExpr(t.Text, t.Line),
                };
            case TokenKind.String:
            {
                // Adjacent literals concatenate, as in Python: 'a' "b" is 'ab'.
                string s = Advance().Text;
                if (Current.Kind != TokenKind.String) return new LiteralExpr(s, t.Line);
                var joined = new System.Text.StringBuilder(s);
                while (Current.Kind == TokenKind.String) joined.Append(Advance().Text);
                return new LiteralExpr(joined.ToString(), t.Line);
            }
            case TokenKind.Integer:
                Advance();
                if (t.Text.Length > JsonValues.MaxIntegerDigits)
                    throw Error($"an integer literal of {t.Text.Length} digits exceeds the limit of {JsonValues.MaxIntegerDigits} digits Python converts", t);
                return new LiteralExpr(long.TryParse(t.Text, NumberStyles.None, CultureInfo.InvariantCulture, out long l)
                    ? l : (object)BigInteger.Parse(t.Text, CultureInfo.InvariantCulture), t.Line);
            case TokenKind.Float:
                Advance();
                return new LiteralExpr(double.Parse(t.Text, NumberStyles.Float, CultureInfo.InvariantCulture), t.Line);
            case TokenKind.Operator when t.Text == "(":
            {
                Advance();
                var inner = ParseTuple(explicitParentheses: true);
                Expect(TokenKind.Operator, ")");
                return inner;
            }
            case TokenKind.Operator when t.Text == "[":
            {
                Advance();
                var items = new List<Expr>();
                while (!Current.IsOperator("]"))
                {
                    if (items.Count > 0) Expect(TokenKind.Operator, ",");
                    if (Current.IsOperator("]")) break;
                    items.Add(ParseExpression());
                }
                Advance();
                return new ListExpr(items, t.Line);
            }
            case TokenKind.Operator when t.Text == "{":
            {
                Advance();
                var items = new List<(Expr, Expr)>();
                while (!Current.IsOperator("}"))
                {
                    if (items.Count > 0) Expect(TokenKind.Operator, ",");
                    if (Current.IsOperator("}")) break;
                    var key = ParseExpression();
                    Expect(TokenKind.Operator, ":");
                    items.Add((key, ParseExpression()));
                }
                Advance();
                return new DictExpr(items, t.Line);
            }
            default:
                throw Error($"unexpected {t}", t);
        }
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var t = Current;
            if (t.IsOperator("."))
            {
                Advance();
                var name = Current;
                if (name.Kind == TokenKind.Name) node = new GetAttrExpr(node, Advance().Text, t.Line);
                else if (name.Kind == TokenKind.Integer) node = new GetItemExpr(node, new LiteralExpr(long.Parse(Advance().Text, CultureInfo.InvariantCulture), t.Line), t.Line);
                else throw Error($"expected a name or number after '.', got {name}", name);
            }
            else if (t.IsOperator("["))
            {
                Advance();
                var args = new List<Expr>();
                while (!Current.IsOperator("]"))
                {
                    if (args.Count > 0) Expect(TokenKind.Operator, ",");
                    args.Add(ParseSubscribed());
                }
                Advance();
                if (args.Count == 0) throw Error("expected an index or slice inside '[]'", t);
                node = new GetItemExpr(node, args.Count == 1 ? args[0] : new TupleExpr(args, t.Line), t.Line);
            }
            else if (t.IsOperator("(")) node = ParseCall(node);
            else return node;
        }
    }

    /// <summary>An index, or a slice <c>start:stop:step</c> with any part left out (<c>[::-1]</c>).</summary>
    private Expr ParseSubscribed()
    {
        int line = Current.Line;
        Expr? start = null;
        if (!Current.IsOperator(":"))
        {
            start = ParseExpression();
            if (!Current.IsOperator(":")) return start;
        }
        Advance();
        Expr? stop = null, step = null;
        if (!Current.IsOperator(":") && !Current.IsOperator("]") && !Current.IsOperator(",")) stop = ParseExpression();
        if (Current.IsOperator(":"))
        {
            Advance();
            if (!Current.IsOperator("]") && !Current.IsOperator(",")) step = ParseExpression();
        }
        return new SliceExpr(start, stop, step, line);
    }

    private CallExpr ParseCall(Expr callee)
    {
        int line = Current.Line;
        var (args, kwargs) = ParseCallArguments();
        return new CallExpr(callee, args, kwargs, line);
    }

    private (List<Expr> Args, List<(string, Expr)> Kwargs) ParseCallArguments()
    {
        Expect(TokenKind.Operator, "(");
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        while (!Current.IsOperator(")"))
        {
            if (args.Count + kwargs.Count > 0)
            {
                Expect(TokenKind.Operator, ",");
                if (Current.IsOperator(")")) break;
            }
            if (Current.IsOperator("*") || Current.IsOperator("**"))
                throw TemplateException.Unsupported("*args/**kwargs in a call", Current.Line);
            if (Current.Kind == TokenKind.Name && PeekAt(1).IsOperator("="))
            {
                string name = Advance().Text;
                Advance();
                kwargs.Add((name, ParseExpression()));
            }
            else
            {
                if (kwargs.Count > 0) throw Error("positional argument after a keyword argument", Current);
                args.Add(ParseExpression());
            }
        }
        Advance();
        return (args, kwargs);
    }

    private Expr ParseFilterExpr(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator("|")) node = ParseFilter(node);
            else if (Current.IsName("is")) node = ParseTest(node);
            else if (Current.IsOperator("(")) node = ParseCall(node);
            else return node;
        }
    }

    private string ParseDottedName()
    {
        string name = Expect(TokenKind.Name).Text;
        while (Current.IsOperator(".") && PeekAt(1).Kind == TokenKind.Name)
        {
            Advance();
            name += "." + Advance().Text;
        }
        return name;
    }

    private Expr ParseFilter(Expr node)
    {
        var bar = Advance();
        var nameToken = Current;
        string name = ParseDottedName();
        if (!Filters.IsJinjaFilter(name)) throw Error($"no filter named '{name}'", nameToken);
        List<Expr> args = [];
        List<(string, Expr)> kwargs = [];
        if (Current.IsOperator("(")) (args, kwargs) = ParseCallArguments();
        return new FilterExpr(node, name, args, kwargs, bar.Line);
    }

    private Expr ParseTest(Expr node)
    {
        var isToken = Advance();
        bool negated = false;
        if (Current.IsName("not"))
        {
            Advance();
            negated = true;
        }
        var nameToken = Current;
        string name = ParseDottedName();
        if (!Tests.IsJinjaTest(name)) throw Error($"no test named '{name}'", nameToken);
        var args = new List<Expr>();
        if (Current.IsOperator("("))
        {
            var (positional, kwargs) = ParseCallArguments();
            if (kwargs.Count > 0) throw TemplateException.Unsupported($"keyword arguments to the test '{name}'", nameToken.Line);
            args = positional;
        }
        else if ((Current.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
                  || Current.IsOperator("[") || Current.IsOperator("{"))
                 && !(Current.IsName("else") || Current.IsName("or") || Current.IsName("and")))
        {
            if (Current.IsName("is")) throw Error("you cannot chain multiple tests with 'is'", Current);
            args.Add(ParsePostfix(ParsePrimary()));
        }
        return new TestExpr(node, name, args, negated, isToken.Line);
    }
}
