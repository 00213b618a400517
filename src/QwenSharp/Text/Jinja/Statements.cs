namespace QwenSharp.Text.Jinja;

/// <summary>A statement (a tag or a piece of output) in the syntax tree, with the line it starts on.</summary>
internal abstract record Stmt(int Line);

/// <summary>Template text outside tags, after whitespace control.</summary>
internal sealed record TextStmt(string Text, int Line) : Stmt(Line);

/// <summary><c>{{ expr }}</c>.</summary>
internal sealed record PrintStmt(Expr Value, int Line) : Stmt(Line);

internal sealed record IfStmt(IReadOnlyList<(Expr Test, IReadOnlyList<Stmt> Body)> Branches, IReadOnlyList<Stmt>? Else, int Line) : Stmt(Line);

/// <summary><c>{% for target in iterable if filter %}body{% else %}empty{% endfor %}</c>.</summary>
internal sealed record ForStmt(AssignTarget Target, Expr Iterable, Expr? Filter, IReadOnlyList<Stmt> Body, IReadOnlyList<Stmt>? Else, int Line) : Stmt(Line);

/// <summary><c>{% set target = value %}</c>.</summary>
internal sealed record SetStmt(AssignTarget Target, Expr Value, int Line) : Stmt(Line);

/// <summary><c>{% set name %}body{% endset %}</c>: the rendered body (through optional filters) is assigned.</summary>
internal sealed record SetBlockStmt(AssignTarget Target, IReadOnlyList<Stmt> Body, IReadOnlyList<FilterExpr> Filters, int Line) : Stmt(Line);

internal sealed record MacroStmt(string Name, IReadOnlyList<(string Name, Expr? Default)> Parameters, IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);

/// <summary><c>{% with a = 1 %}body{% endwith %}</c>: assignments visible only inside.</summary>
internal sealed record WithStmt(IReadOnlyList<(AssignTarget Target, Expr Value)> Assignments, IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);

/// <summary>A body rendered in place: Hugging Face's <c>{% generation %}</c> marker (which only tracks
/// assistant spans for masks) and similar wrappers.</summary>
internal sealed record BlockStmt(IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);

internal sealed record BreakStmt(int Line) : Stmt(Line);

internal sealed record ContinueStmt(int Line) : Stmt(Line);

/// <summary>Where a value is assigned: a name, <c>ns.attr</c>, or several names unpacking a sequence.</summary>
internal abstract record AssignTarget(int Line);

internal sealed record NameTarget(string Name, int Line) : AssignTarget(Line);

internal sealed record AttributeTarget(string Object, string Attribute, int Line) : AssignTarget(Line);

internal sealed record TupleTarget(IReadOnlyList<AssignTarget> Items, int Line) : AssignTarget(Line);
