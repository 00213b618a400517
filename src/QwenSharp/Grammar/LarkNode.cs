namespace QwenSharp.Grammar;

/// <summary>A parsed Lark expression.</summary>
internal abstract record LarkNode
{
    public sealed record Alternatives(IReadOnlyList<LarkNode> Items) : LarkNode;
    public sealed record Sequence(IReadOnlyList<LarkNode> Items) : LarkNode;
    /// <summary>Max null: unbounded.</summary>
    public sealed record Repeat(LarkNode Item, int Min, int? Max) : LarkNode;
    public sealed record Literal(string Text) : LarkNode;
    public sealed record Range(int From, int To) : LarkNode;
    public sealed record Regex(string Pattern) : LarkNode;
    public sealed record Reference(string Name) : LarkNode;
}

internal enum LarkStatementKind { Definition, Import, Ignore }

/// <summary>One statement of a Lark grammar: a rule or terminal definition, an %import or an %ignore.</summary>
internal sealed record LarkStatement(LarkStatementKind Kind, int Line, string Name, LarkNode Body, IReadOnlyList<(string Source, string Alias)> Imports);
