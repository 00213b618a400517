using System.Text;

namespace QwenSharp.Grammar;

/// <summary>
/// The rules of one GBNF text being written: unique names under a prefix, identical bodies shared under one
/// name, and names reserved before their body is known (recursive $ref, recursive Lark rules).
/// </summary>
internal sealed class GbnfRuleSet
{
    private readonly string _prefix;
    private readonly List<string> _order = [];
    private readonly Dictionary<string, string?> _bodies = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _byBody = new(StringComparer.Ordinal);

    private readonly HashSet<string> _sharedNames;

    /// <param name="sharedNames">Fixed names <see cref="Shared"/> may use; <see cref="Reserve"/> never hands them out.</param>
    public GbnfRuleSet(string prefix, IEnumerable<string>? sharedNames = null)
    {
        _prefix = prefix;
        _sharedNames = new HashSet<string>(sharedNames ?? [], StringComparer.Ordinal);
    }

    /// <summary>Reserves a new rule name made of the prefix and <paramref name="baseName"/> (made unique with a number).</summary>
    public string Reserve(string baseName)
    {
        string stem = _prefix + GbnfText.RuleNamePart(baseName);
        string name = stem;
        for (int n = 1; _bodies.ContainsKey(name) || _sharedNames.Contains(name[_prefix.Length..]); n++) name = stem + "-" + n;
        _bodies[name] = null;
        _order.Add(name);
        return name;
    }

    /// <summary>Reserves exactly <paramref name="name"/> (the caller's root rule), with no prefix.</summary>
    public string ReserveExact(string name)
    {
        if (_bodies.ContainsKey(name)) throw new InvalidOperationException($"Rule '{name}' is already reserved.");
        _bodies[name] = null;
        _order.Add(name);
        return name;
    }

    public void Define(string name, string body)
    {
        if (!_bodies.TryGetValue(name, out var old) || old is not null)
            throw new InvalidOperationException($"Rule '{name}' is not reserved or already defined.");
        _bodies[name] = body;
        _byBody.TryAdd(body, name);
    }

    /// <summary>A rule with <paramref name="body"/>: an existing one with the same body, else a new one.</summary>
    public string Add(string baseName, string body)
    {
        if (_byBody.TryGetValue(body, out var existing)) return existing;
        string name = Reserve(baseName);
        Define(name, body);
        return name;
    }

    /// <summary>A shared rule under a fixed name (space, string, value, ...): defined once by <paramref name="body"/>.</summary>
    public string Shared(string fixedName, Func<string> body)
    {
        if (!_sharedNames.Contains(fixedName)) throw new InvalidOperationException($"'{fixedName}' is not a shared name.");
        string name = _prefix + fixedName;
        if (_bodies.ContainsKey(name)) return name;
        ReserveExact(name);
        Define(name, body());
        return name;
    }

    public bool IsDefined(string name) => _bodies.TryGetValue(name, out var body) && body is not null;

    /// <summary>The body of a defined rule; null while only reserved or unknown.</summary>
    public string? BodyOf(string name) => _bodies.TryGetValue(name, out var body) ? body : null;

    public bool IsSharedName(string name) => name.StartsWith(_prefix, StringComparison.Ordinal) && _sharedNames.Contains(name[_prefix.Length..]);

    /// <summary>The GBNF text, one rule a line, in the order names were reserved.</summary>
    public string Write()
    {
        var sb = new StringBuilder();
        foreach (var name in _order)
        {
            var body = _bodies[name] ?? throw new InvalidOperationException($"Rule '{name}' was reserved but never defined.");
            sb.Append(name).Append(" ::= ").Append(body).Append('\n');
        }
        return sb.ToString();
    }
}
