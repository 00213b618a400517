using System.Runtime.ExceptionServices;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// Jinja2's filters that order or deduplicate a sequence (dictsort, sort, unique, min, max), with its
/// rules: strings compare case-insensitively unless case_sensitive, equal keys keep their order. Every
/// comparison is charged to the render's budget, so sorting a long list runs out of steps, not time.
/// </summary>
internal static partial class Filters
{
    private static object? Ordered(string name, object? value, CallArguments a, RenderBudget budget)
    {
        switch (name)
        {
            case "dictsort":
            {
                a.Check(name, "case_sensitive", "by", "reverse");
                if (value is not PyDict dict) throw TemplateException.Runtime("dictsort expects a mapping");
                bool byValue = (a.Get(1, "by", "key") as string) switch
                {
                    "key" => false,
                    "value" => true,
                    _ => throw TemplateException.Runtime("You can only sort by either 'key' or 'value'"),
                };
                var pairs = ((IReadOnlyList<object?>)PyMethods.Call(new BoundMethod(dict, "items"), CallArguments.None, budget)!).ToList();
                bool caseSensitive = PyOperators.IsTrue(a.Get(0, "case_sensitive", false));
                var sorted = SortBy(pairs, p => SortKey(((PyTuple)p!)[byValue ? 1 : 0], caseSensitive, budget), PyOperators.IsTrue(a.Get(2, "reverse", false)), budget);
                return sorted;
            }
            case "sort":
            {
                a.Check(name, "reverse", "case_sensitive", "attribute");
                bool caseSensitive = PyOperators.IsTrue(a.Get(1, "case_sensitive", false));
                var attribute = a.Get(2, "attribute");
                return SortBy(PyOperators.ToList(value, budget),
                    x => SortKey(attribute == null ? x : Attribute(x, attribute, budget), caseSensitive, budget), PyOperators.IsTrue(a.Get(0, "reverse", false)), budget);
            }
            case "unique":
            {
                a.Check(name, "case_sensitive", "attribute");
                bool caseSensitive = PyOperators.IsTrue(a.Get(0, "case_sensitive", false));
                var attribute = a.Get(1, "attribute");
                var seen = new List<object?>();
                var result = new List<object?>();
                foreach (var x in PyOperators.ToList(value, budget))
                {
                    var key = SortKey(attribute == null ? x : Attribute(x, attribute, budget), caseSensitive, budget);
                    if (seen.Any(k => PyOperators.AreEqual(k, key, budget))) continue;
                    seen.Add(key);
                    result.Add(x);
                }
                return result;
            }
            case "min" or "max":
            {
                a.Check(name, "case_sensitive", "attribute");
                bool caseSensitive = PyOperators.IsTrue(a.Get(0, "case_sensitive", false));
                var attribute = a.Get(1, "attribute");
                var items = SortBy(PyOperators.ToList(value, budget), x => SortKey(attribute == null ? x : Attribute(x, attribute, budget), caseSensitive, budget), false, budget);
                if (items.Count == 0) return new Undefined($"No aggregated item, sequence was empty.");
                return name == "min" ? items[0] : items[^1];
            }
        }
        throw TemplateException.Unsupported($"the filter '{name}'");
    }

    private static object? SortKey(object? v, bool caseSensitive, RenderBudget budget)
    {
        if (caseSensitive || v is not string s) return v;
        budget.BuildString(s.Length, "a case-insensitive sort key");
        return s.ToLowerInvariant();
    }

    /// <summary>A stable sort; each comparison charges the budget (Compare charges per item and character).</summary>
    private static List<object?> SortBy(List<object?> items, Func<object?, object?> key, bool reverse, RenderBudget budget)
    {
        var keyed = items.Select((x, i) => (Item: x, Key: key(x), Index: i)).ToList();
        try
        {
            keyed.Sort((p, q) =>
            {
                int c = PyOperators.Compare(p.Key, q.Key, "<", budget);
                return c != 0 ? (reverse ? -c : c) : p.Index.CompareTo(q.Index);
            });
        }
        catch (InvalidOperationException e) when (e.InnerException is TemplateException inner)
        {
            // List.Sort wraps what the comparison throws; the template error (a TypeError, a limit) is the news.
            ExceptionDispatchInfo.Throw(inner);
        }
        return keyed.Select(k => k.Item).ToList();
    }
}
