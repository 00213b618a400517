using System.Text.Json.Nodes;
using QwenSharp.Text;
using QwenSharp.Text.Jinja;

namespace QwenSharp.Tests.Text;

/// <summary>
/// A template or its input can ask for unbounded work, memory or recursion (issue #14, point 6). Each case
/// must end in a <see cref="TemplateException"/> of kind Limit that names the limit (TemplateLimits.X) and the
/// template line, never a hang, an out-of-memory or a stack overflow; where Python gives an answer cheaply
/// (1 ** 10**18) the answer is given.
/// </summary>
public class TemplateLimitsTests
{
    /// <summary>Steps as the only budget, so the verdict does not depend on the machine's speed.</summary>
    private static readonly TemplateLimits StepsOnly = new() { Timeout = Timeout.InfiniteTimeSpan };

    private static string Render(string template, TemplateLimits? limits = null, Dictionary<string, object?>? variables = null) =>
        JinjaTemplate.Parse(template, "t.jinja", limits).Render(variables ?? new Dictionary<string, object?>(), limits: limits ?? StepsOnly);

    private static TemplateException Exceeds(string limit, int line, string template, TemplateLimits? limits = null, Dictionary<string, object?>? variables = null)
    {
        var e = Assert.Throws<TemplateException>(() => Render(template, limits, variables));
        Assert.Equal(TemplateErrorKind.Limit, e.Kind);
        Assert.Equal(line, e.Line);
        Assert.Contains($"(TemplateLimits.{limit})", e.Message);
        Assert.StartsWith($"t.jinja, line {line}: template limit exceeded: ", e.Message);
        return e;
    }

    [Fact]
    public void PowersAreComputedBySquaringAndRefusedBeyond64Bits()
    {
        // Python's answers; a loop of 10**18 multiplications would never finish the first.
        Assert.Equal("1|-1|0|4611686018427387904|-9223372036854775808",
            Render("{{ 1 ** (10**18) }}|{{ (-1) ** (10**18 + 1) }}|{{ 0 ** (10**18) }}|{{ 2 ** 62 }}|{{ (-2) ** 63 }}"));
        var e = Assert.Throws<TemplateException>(() => Render("x\n{{ 2 ** (10**18) }}"));
        Assert.Equal(TemplateErrorKind.Unsupported, e.Kind);
        Assert.Equal(2, e.Line);
        Assert.Contains("integer arithmetic beyond 64 bits", e.Message);
    }

    [Theory]
    [InlineData("x\n{{ \"a\" * 10**9 }}", "MaxOutputLength", "'*' would build a string of 1000000000 characters, more than 4194304")]
    [InlineData("x\n{{ 10**18 * 'ab' }}", "MaxOutputLength", "'*' would build a string of 2000000000000000000 characters")]
    [InlineData("x\n{{ [0] * 10**9 }}", "MaxListLength", "'*' would build a list of 1000000000 items, more than 1000000")]
    [InlineData("x\n{{ (1, 2) * 10**9 }}", "MaxListLength", "'*' would build a list of 2000000000 items")]
    public void RepetitionIsRefusedBeforeItIsBuilt(string template, string limit, string detail) =>
        Assert.Contains(detail, Exceeds(limit, 2, template).Message);

    [Fact]
    public void A50000TermSumIsRefusedWhenTheTemplateLoads()
    {
        string sum = "x\n{{ " + string.Join("+", Enumerable.Repeat("1", 50_000)) + " }}";
        var e = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse(sum, "t.jinja"));
        Assert.Equal(TemplateErrorKind.Limit, e.Kind);
        Assert.Equal(2, e.Line);
        Assert.Contains("the template nests deeper than 200 levels (TemplateLimits.MaxDepth)", e.Message);
        // Chains of other operators are built in loops too.
        foreach (var chain in new[] { "x" + string.Concat(Enumerable.Repeat(".a", 50_000)), "x" + string.Concat(Enumerable.Repeat("|string", 50_000)),
                     string.Join(" ~ ", Enumerable.Repeat("'a'", 50_000)), string.Join(" or ", Enumerable.Repeat("x", 50_000)) })
            Assert.Equal(TemplateErrorKind.Limit, Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("{{ " + chain + " }}", "t.jinja")).Kind);
        // A model's own template fails as it is loaded.
        Assert.Equal(TemplateErrorKind.Limit, Assert.Throws<TemplateException>(() => ChatTemplate.Parse(sum, "model")).Kind);
    }

    [Fact]
    public void EvaluationDepthIsCountedAtRenderTime()
    {
        // 100 terms parse within MaxDepth; evaluating them recurses 100 levels, more than this budget allows.
        string sum = "x\n{{ " + string.Join("+", Enumerable.Repeat("1", 100)) + " }}";
        Assert.Equal("100", Render(sum)[2..]);
        Exceeds("MaxEvaluationDepth", 2, sum, StepsOnly with { MaxEvaluationDepth = 50 });
    }

    [Fact]
    public void SelfRecursiveMacrosStopAtTheDepthLimit()
    {
        var e = Exceeds("MaxDepth", 2, "{% macro f(n) %}\n{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
        Assert.Contains("calls of macro 'f' nest deeper than 200", e.Message);
        // A macro whose body nests deeper reaches the evaluation depth first.
        string deep = "{% macro g(n) %}\n{% for i in [1] %}{% if true %}{{ (((g(n + 1) ~ 'a') ~ 'b') ~ 'c') }}{% endif %}{% endfor %}{% endmacro %}{{ g(0) }}";
        Exceeds("MaxEvaluationDepth", 2, deep);
    }

    [Fact]
    public void NestedRangeLoopsRunOutOfSteps()
    {
        const string loops = "{% for i in range(100000) %}\n{% for j in range(100000) %}{% endfor %}{% endfor %}";
        Assert.Contains("the render takes more than 1000000 steps", Exceeds("MaxSteps", 2, loops, StepsOnly with { MaxSteps = 1_000_000 }).Message);
        // Where the clock runs out depends on the machine (almost always in the inner loop, line 2).
        var timed = Assert.Throws<TemplateException>(() =>
            Render(loops, new TemplateLimits { MaxSteps = long.MaxValue, Timeout = TimeSpan.FromMilliseconds(20) }));
        Assert.Equal(TemplateErrorKind.Limit, timed.Kind);
        Assert.InRange(timed.Line, 1, 2);
        Assert.Equal($"t.jinja, line {timed.Line}: template limit exceeded: the render takes longer than 0.02 s (TemplateLimits.Timeout)", timed.Message);
        // With the default limits one of the two stops it.
        var e = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse(loops, "t.jinja").Render(new Dictionary<string, object?>()));
        Assert.Equal(TemplateErrorKind.Limit, e.Kind);
        Assert.InRange(e.Line, 1, 2);
        Assert.Matches(@"\(TemplateLimits\.(Timeout|MaxSteps)\)$", e.Message);
    }

    [Fact]
    public void OutputAndRangeHaveTheirLimits()
    {
        Exceeds("MaxOutputLength", 2, "{% for i in range(100000) %}\n{{ 'x' * 100 }}{% endfor %}");
        Exceeds("MaxOutputLength", 1, "{% macro m() %}{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}{% endmacro %}{% set s %}{{ m() }}{% endset %}");
        Assert.Contains("range() would produce 100001 items, more than 100000", Exceeds("MaxRange", 1, "{{ range(100001)|length }}").Message);
        Exceeds("MaxRange", 1, "{{ range(-(2**62), 2**62)|length }}");
        Assert.Equal("100000", Render("{{ range(100000)|length }}"));
    }

    [Theory]
    [InlineData("{{ (['x' * 1000000] * 1000000)|join }}", "MaxOutputLength")]
    [InlineData("{{ ''.join(['x' * 1000000] * 1000000) }}", "MaxOutputLength")]
    [InlineData("{{ ('a' * 4000000).replace('a', 'b' * 4000000) }}", "MaxOutputLength")]
    [InlineData("{{ ('a' * 4000000)|replace('', 'b' * 4000000) }}", "MaxOutputLength")]
    [InlineData("{{ 'x'|center(10**9) }}", "MaxOutputLength")]
    [InlineData("{{ 'x'|center(9223372036854775807) }}", "MaxOutputLength")]
    [InlineData("{{ ('a\\n' * 100000)|indent('x' * 4000000) }}", "MaxOutputLength")]
    [InlineData("{{ ('a\\n' * 100000)|indent(10**15) }}", "MaxOutputLength")]
    [InlineData("{{ [1, [2]]|tojson(indent=10**10) }}", "MaxOutputLength")]
    [InlineData("{{ ['x' * 4000000] * 1000000 }}", "MaxOutputLength")]
    [InlineData("{{ (['x' * 4000000] * 1000000)|tojson }}", "MaxOutputLength")]
    [InlineData("{{ (['&' * 1000000] * 10)|map('escape')|map('escape')|list|length }}", "MaxOutputLength")]
    [InlineData("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "MaxOutputLength")]
    [InlineData("{% set ns = namespace(l=[0]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", "MaxListLength")]
    [InlineData("{{ (',' * 2000000).split(',')|length }}", "MaxListLength")]
    [InlineData("{{ ('\\n' * 2000000).splitlines()|length }}", "MaxListLength")]
    [InlineData("{{ ('x' * 2000000)|list|length }}", "MaxListLength")]
    [InlineData("{{ (range(100000)|list * 10)|sort|length }}", "MaxSteps", 1_000_000L)]
    [InlineData("{{ (range(100000)|list * 2)|unique|list|length }}", "MaxSteps", 1_000_000L)]
    [InlineData("{{ (['X' * 1000000] * 1000)|map('lower')|list|length }}", "MaxSteps", 1_000_000L)]
    [InlineData("{{ (['x' * 1000000] * 1000)|select('lower')|list|length }}", "MaxSteps", 1_000_000L)]
    [InlineData("{% set l = range(100000)|list %}{% for i in range(100000) %}{% if -1 in l %}{% endif %}{% endfor %}", "MaxSteps", 1_000_000L)]
    [InlineData("{% set s = 'x' * 4000000 %}{% for i in range(100000) %}{{ s[1:2] }}{% endfor %}", "MaxSteps")]
    [InlineData("{% set s = 'x' * 4000000 %}{% for i in range(100000) %}{{ s[1] }}{% endfor %}", "MaxSteps")]
    [InlineData("{% set s = 'x' * 4000000 %}{% for i in range(100000) %}{{ s.startswith('y') }}{% endfor %}", "MaxSteps")]
    [InlineData("{% set s = 'x' * 4000000 %}{% for i in range(100000) %}{{ s|length }}{% endfor %}", "MaxSteps")]
    [InlineData("{% set s = 'x' * 4000000 %}{% for i in range(100000) %}{{ s is lower }}{% endfor %}", "MaxSteps")]
    public void OperationsThatCanGrowOrLoopAreBounded(string template, string limit, long maxSteps = 10_000_000) =>
        Exceeds(limit, 1, template, StepsOnly with { MaxSteps = maxSteps });

    [Fact]
    public void SearchingIsChargedByTheLengthOfTheNeedle()
    {
        var variables = new Dictionary<string, object?> { ["haystack"] = new string('a', 1_000_000), ["needle"] = new string('a', 100_000) };
        var limits = StepsOnly with { MaxSteps = 100_000 };
        Exceeds("MaxSteps", 1, "{{ needle in haystack }}", limits, variables);
        Exceeds("MaxSteps", 1, "{{ haystack.count(needle) }}", limits, variables);
        Assert.Equal("True", Render("{{ 'aaa' in haystack }}", limits, variables));
    }

    [Fact]
    public void StrippingWithALongSetOfCharactersIsLinear() =>
        // Every 'x' of the string is in the set, found at its end: testing each char against the set one
        // by one would take 4·10^12 comparisons.
        Assert.Equal("0|0|0", Render("{% set s = 'x' * 4000000 %}{% set chars = 'y' * 1000000 ~ 'x' %}" +
                                     "{{ s.strip(chars)|length }}|{{ s.rstrip(chars)|length }}|{{ s|trim(chars)|length }}"));

    [Fact]
    public void RoundingAnIntToAHugeNegativePrecisionIsZero() =>
        Assert.Equal("0|0|1000", Render("{{ 5|round(-1000000000) }}|{{ -5|round(-20) }}|{{ 1499|round(-3) }}"));
}
