namespace QwenSharp.Grammar;

/// <summary>A parsed regular expression (the supported subset has no state: it is a regular language).</summary>
internal abstract record RegexNode;

/// <summary>One code point out of a set (a literal is a set of one).</summary>
internal sealed record RegexChars(CodePointSet Set) : RegexNode;

/// <summary>Its parts one after another; no parts is the empty string.</summary>
internal sealed record RegexSequence(IReadOnlyList<RegexNode> Parts) : RegexNode;

/// <summary>One of its alternatives.</summary>
internal sealed record RegexAlternation(IReadOnlyList<RegexNode> Alternatives) : RegexNode;

/// <summary>The item repeated Min to Max times; Max null is unbounded.</summary>
internal sealed record RegexRepeat(RegexNode Item, int Min, int? Max) : RegexNode;
