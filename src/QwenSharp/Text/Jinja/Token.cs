namespace QwenSharp.Text.Jinja;

internal enum TokenKind
{
    /// <summary>Literal text between tags, after whitespace control.</summary>
    Data,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    /// <summary>A string literal, already unescaped.</summary>
    String,
    Integer,
    Float,
    /// <summary>Punctuation and operators: + - * / // % ** ~ == != &lt; &lt;= &gt; &gt;= = . : | , ( ) [ ] { }</summary>
    Operator,
    End,
}

/// <summary>One lexical token with the 1-based template line it starts on.</summary>
internal readonly record struct Token(TokenKind Kind, string Text, int Line)
{
    public bool Is(TokenKind kind, string text) => Kind == kind && Text == text;
    public bool IsName(string name) => Kind == TokenKind.Name && Text == name;
    public bool IsOperator(string op) => Kind == TokenKind.Operator && Text == op;

    public override string ToString() => Kind switch
    {
        TokenKind.End => "end of template",
        TokenKind.Data => "text",
        TokenKind.VariableEnd or TokenKind.BlockEnd or TokenKind.VariableBegin or TokenKind.BlockBegin => $"'{Text}'",
        TokenKind.String => "string literal",
        _ => $"'{Text}'",
    };
}
