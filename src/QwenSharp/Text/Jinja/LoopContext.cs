namespace QwenSharp.Text.Jinja;

/// <summary>The <c>loop</c> variable inside a for loop (Jinja2's LoopContext): position, neighbours and
/// <c>loop.cycle(...)</c>.</summary>
internal sealed class LoopContext(IReadOnlyList<object?> items)
{
    public int Index0 { get; set; }

    public object? Get(string name) => name switch
    {
        "index" => (long)Index0 + 1,
        "index0" => (long)Index0,
        "revindex" => (long)(items.Count - Index0),
        "revindex0" => (long)(items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == items.Count - 1,
        "length" => (long)items.Count,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => Index0 > 0 ? items[Index0 - 1] : new Undefined("there is no previous item"),
        "nextitem" => Index0 + 1 < items.Count ? items[Index0 + 1] : new Undefined("there is no next item"),
        "cycle" => new JinjaFunction("loop.cycle", args =>
        {
            if (args.Positional.Count == 0) throw TemplateException.Runtime("no items for cycling given");
            return args.Positional[Index0 % args.Positional.Count];
        }),
        "changed" => throw TemplateException.Unsupported("loop.changed()"),
        _ => new Undefined($"'LoopContext object' has no attribute '{name}'"),
    };

    public override string ToString() => $"<LoopContext {Index0 + 1}/{items.Count}>";
}
