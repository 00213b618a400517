namespace QwenSharp.Grammar;

/// <summary>A parsed GBNF expression (llama.cpp's grammar syntax); <see cref="Position"/> is its offset in the text, for errors.</summary>
internal abstract record GbnfExpr(int Position);

/// <summary>A quoted literal, as code points.</summary>
internal sealed record GbnfLiteral(int Position, int[] CodePoints) : GbnfExpr(Position);

/// <summary>A character class: inclusive code-point ranges, negated for [^...]; `.` is the negated empty class.</summary>
internal sealed record GbnfCharClass(int Position, (int Lo, int Hi)[] Ranges, bool Negated) : GbnfExpr(Position);

/// <summary>A reference to a rule by name.</summary>
internal sealed record GbnfRuleRef(int Position, string Name) : GbnfExpr(Position);

/// <summary>A sequence of items, matched one after the other (empty: the empty string).</summary>
internal sealed record GbnfSequence(int Position, GbnfExpr[] Items) : GbnfExpr(Position);

/// <summary>Alternatives separated by `|`.</summary>
internal sealed record GbnfChoice(int Position, GbnfExpr[] Alternatives) : GbnfExpr(Position);

/// <summary>An item repeated Min to Max times (Max −1: unbounded): `*`, `+`, `?`, `{m}`, `{m,}`, `{m,n}`.</summary>
internal sealed record GbnfRepeat(int Position, GbnfExpr Item, int Min, int Max) : GbnfExpr(Position);

/// <summary>One rule: `name ::= body`.</summary>
internal sealed record GbnfRule(string Name, int Position, GbnfExpr Body);
