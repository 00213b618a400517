using System.Globalization;

namespace QwenSharp.Cli;

/// <summary>
/// The parsed command line of one sub-command: `--name value`, `--flag`, `-x value`, repeated options and
/// positional words. Small on purpose: every command reads what it needs and <see cref="EnsureAllUsed"/>
/// refuses anything it did not read, so a misspelt option is an error rather than silently ignored.
/// </summary>
public sealed class CliArgs
{
    private readonly List<(string Name, string? Value)> _options = new();
    private readonly List<string> _positional = new();
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flagNames;

    /// <param name="args">the words after the sub-command's name</param>
    /// <param name="flagNames">options that take no value (e.g. "--json", "--verbose")</param>
    public CliArgs(IReadOnlyList<string> args, IEnumerable<string> flagNames)
    {
        _flagNames = new HashSet<string>(flagNames, StringComparer.Ordinal) { "--verbose", "--help", "-h" };
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a == "--")
            {
                _positional.AddRange(args.Skip(i + 1));
                break;
            }
            if (a.StartsWith('-') && a.Length > 1 && !IsNumber(a))
            {
                int eq = a.IndexOf('=');
                if (a.StartsWith("--") && eq > 0)
                {
                    _options.Add((a[..eq], a[(eq + 1)..]));
                }
                else if (_flagNames.Contains(a))
                {
                    _options.Add((a, null));
                }
                else
                {
                    if (i + 1 >= args.Count)
                        throw new CliException($"Option {a} needs a value.");
                    _options.Add((a, args[++i]));
                }
            }
            else
            {
                _positional.Add(a);
            }
        }
    }

    private static bool IsNumber(string s) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    public bool Verbose => Flag("--verbose");

    public bool Flag(string name, string? alias = null)
    {
        _used.Add(name);
        if (alias != null) _used.Add(alias);
        return _options.Any(o => o.Name == name || o.Name == alias);
    }

    /// <summary>The last value given for the option (or its alias), or null when absent.</summary>
    public string? Get(string name, string? alias = null)
    {
        _used.Add(name);
        if (alias != null) _used.Add(alias);
        string? value = null;
        foreach (var (n, v) in _options)
            if (n == name || n == alias) value = v ?? throw new CliException($"Option {n} needs a value.");
        return value;
    }

    public IReadOnlyList<string> GetAll(string name, string? alias = null)
    {
        _used.Add(name);
        if (alias != null) _used.Add(alias);
        return _options.Where(o => (o.Name == name || o.Name == alias) && o.Value != null).Select(o => o.Value!).ToList();
    }

    public string Required(string name, string? alias = null) =>
        Get(name, alias) ?? throw new CliException($"Option {name} is required.");

    public int GetInt(string name, int defaultValue, int min = int.MinValue, int max = int.MaxValue, string? alias = null) =>
        (int)GetLong(name, defaultValue, min, max, alias);

    public long GetLong(string name, long defaultValue, long min = long.MinValue, long max = long.MaxValue, string? alias = null)
    {
        string? s = Get(name, alias);
        if (s == null) return defaultValue;
        if (!long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v))
            throw new CliException($"Option {name} must be an integer, got '{s}'.");
        if (v < min || v > max)
            throw new CliException($"Option {name} must be between {min} and {max}, got {v}.");
        return v;
    }

    public double? GetDouble(string name, string? alias = null)
    {
        string? s = Get(name, alias);
        if (s == null) return null;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
            throw new CliException($"Option {name} must be a number, got '{s}'.");
        return v;
    }

    public IReadOnlyList<string> Positional
    {
        get
        {
            _used.Add("\0positional");
            return _positional;
        }
    }

    /// <summary>Refuses options and positional words that the command never asked for.</summary>
    public void EnsureAllUsed()
    {
        foreach (var (n, _) in _options)
            if (!_used.Contains(n) && n != "--verbose")
                throw new CliException($"Unknown option {n}.");
        if (_positional.Count > 0 && !_used.Contains("\0positional"))
            throw new CliException($"Unexpected argument '{_positional[0]}'.");
    }
}

/// <summary>A user error on the command line or in its inputs: printed as one line, exit code 1.</summary>
public sealed class CliException(string message) : Exception(message);
