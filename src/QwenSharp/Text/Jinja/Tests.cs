namespace QwenSharp.Text.Jinja;

/// <summary>Jinja2's built-in tests (jinja2/tests.py): <c>x is defined</c>, <c>x is not none</c>,
/// <c>x is string</c>, <c>n is divisibleby 3</c>…, with Python's type rules (a bool is a number but not an
/// integer; a dict is a sequence; Undefined is iterable).</summary>
internal static class Tests
{
    private static readonly HashSet<string> JinjaBuiltins =
    [
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even", "false", "filter", "float",
        "ge", "gt", "greaterthan", "in", "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping", "ne", "none",
        "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper", "==", "!=", "<", "<=", ">", ">=",
    ];

    public static bool IsJinjaTest(string name) => JinjaBuiltins.Contains(name);

    public static bool Apply(string name, object? value, IReadOnlyList<object?> args, RenderBudget budget)
    {
        // Some tests read a whole string (lower, upper, in); a list may hold one long string many times.
        budget.Charge(1 + (value is string read ? read.Length / TemplateLimits.CharactersPerStep : 0));
        object? Arg()
        {
            if (args.Count != 1) throw TemplateException.Runtime($"the test '{name}' takes exactly one argument");
            return args[0];
        }
        switch (name)
        {
            case "defined": return value is not Undefined;
            case "undefined": return value is Undefined;
            case "none": return value == null;
            case "boolean": return value is bool;
            case "true": return value is true;
            case "false": return value is false;
            case "string": return value is string;
            case "number": return value is bool or long or double or System.Numerics.BigInteger;
            case "integer": return value is long or System.Numerics.BigInteger;
            case "float": return value is double;
            case "mapping": return value is PyDict;
            case "iterable": return value is string or IReadOnlyList<object?> or PyDict or Undefined;
            case "sequence": return value is string or PyDict or Undefined || (value is IReadOnlyList<object?> && (value is not PyView v || v.TypeName == "range"));
            case "callable": return value is JinjaFunction or BoundMethod;
            case "escaped": return false;
            // str(value).islower(): at least one cased character and none of the other case.
            case "lower": return PyString.IsAllOneCase(PyFormat.Str(value, budget), lower: true);
            case "upper": return PyString.IsAllOneCase(PyFormat.Str(value, budget), lower: false);
            case "odd": return PyOperators.AreEqual(PyOperators.Arithmetic("%", value, 2L, budget), 1L);
            case "even": return PyOperators.AreEqual(PyOperators.Arithmetic("%", value, 2L, budget), 0L);
            case "divisibleby":
            {
                var r = PyOperators.Arithmetic("%", value, Arg(), budget);
                return PyOperators.AreEqual(r, 0L);
            }
            case "eq" or "equalto" or "==": return PyOperators.AreEqual(value, Arg(), budget);
            case "ne" or "!=": return !PyOperators.AreEqual(value, Arg(), budget);
            case "lt" or "lessthan" or "<": return PyOperators.Compare(value, Arg(), "<", budget) < 0;
            case "le" or "<=": return PyOperators.Compare(value, Arg(), "<=", budget) <= 0;
            case "gt" or "greaterthan" or ">": return PyOperators.Compare(value, Arg(), ">", budget) > 0;
            case "ge" or ">=": return PyOperators.Compare(value, Arg(), ">=", budget) >= 0;
            case "in": return PyOperators.Contains(Arg(), value, budget);
            case "sameas":
            {
                var other = Arg();
                return value switch
                {
                    null => other == null,
                    bool b => other is bool ob && b == ob,
                    long or double or string => other != null && other.GetType() == value.GetType() && PyOperators.AreEqual(value, other, budget),
                    _ => ReferenceEquals(value, other),
                };
            }
            case "filter": return Arg() is string f && Filters.IsJinjaFilter(f);
            case "test": return Arg() is string t && IsJinjaTest(t);
        }
        throw TemplateException.Unsupported($"the test '{name}'");
    }
}
