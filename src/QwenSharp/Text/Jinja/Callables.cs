namespace QwenSharp.Text.Jinja;

/// <summary>The arguments of one call: positional then keyword, as Python passes them.</summary>
internal sealed record CallArguments(IReadOnlyList<object?> Positional, IReadOnlyDictionary<string, object?> Keyword)
{
    public static readonly CallArguments None = new(Array.Empty<object?>(), new Dictionary<string, object?>());

    /// <summary>The argument at <paramref name="index"/> or named <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Get(int index, string name, object? fallback = null)
    {
        if (index < Positional.Count) return Positional[index];
        return Keyword.TryGetValue(name, out var v) ? v : fallback;
    }

    public bool Has(int index, string name) => index < Positional.Count || Keyword.ContainsKey(name);

    /// <summary>Refuses more positional arguments or other keywords than the callee knows, as Python does.</summary>
    public void Check(string callee, params string[] names)
    {
        if (Positional.Count > names.Length)
            throw TemplateException.Runtime($"{callee}() takes at most {names.Length} argument(s), {Positional.Count} given");
        foreach (var k in Keyword.Keys)
            if (Array.IndexOf(names, k) < 0)
                throw TemplateException.Runtime($"{callee}() got an unexpected keyword argument '{k}'");
    }
}

/// <summary>A function a template can call: a global (range, namespace, raise_exception), a macro, or
/// loop.cycle.</summary>
internal sealed class JinjaFunction(string name, Func<CallArguments, object?> body)
{
    public string Name { get; } = name;
    public object? Invoke(CallArguments args) => body(args);
    public override string ToString() => $"<function {Name}>";
}

/// <summary>A method looked up on a value (<c>message.content.startswith</c>), called later with its
/// arguments; see <see cref="PyMethods"/>.</summary>
internal sealed class BoundMethod(object target, string name)
{
    public object Target { get; } = target;
    public string Name { get; } = name;
    public override string ToString() => $"<built-in method {Name}>";
}
