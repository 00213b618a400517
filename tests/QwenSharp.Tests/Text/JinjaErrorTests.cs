using QwenSharp.Text.Jinja;

namespace QwenSharp.Tests.Text;

/// <summary>
/// Templates Jinja2 refuses (checked against Jinja2 3.1.6: each raises there too) fail here with the
/// template's name and line; constructs this interpreter does not implement fail naming the construct,
/// never rendering something approximate.
/// </summary>
public class JinjaErrorTests
{
    private static TemplateException Fails(string template, string contextJson = "{}") =>
        Assert.Throws<TemplateException>(() => JinjaInterpreterTests.Render(template, contextJson));

    [Theory]
    [InlineData("a\n{{ 1 + }}", 2, "expected")]
    [InlineData("{% for x in y %}\n{% endif %}", 2, "unknown tag 'endif'")]
    [InlineData("line1\n{% if x %}\nno end", 3, "'if' tag opened on line 2")]
    [InlineData("a\n{{ 'unterminated }}", 2, "unterminated string")]
    [InlineData("{# open", 1, "comment")]
    [InlineData("\n{{ x|nosuch }}", 2, "no filter named 'nosuch'")]
    [InlineData("\n\n{{ x is nosuch }}", 3, "no test named 'nosuch'")]
    [InlineData("{% set 1 = 2 %}", 1, "can't assign")]
    [InlineData("x\n{% break %}", 2, "outside of a for loop")]
    [InlineData("{{ (1 }}", 1, "unexpected")]
    [InlineData("{% frobnicate %}", 1, "unknown tag 'frobnicate'")]
    public void SyntaxErrorsNameTheLine(string template, int line, string detail)
    {
        var e = Fails(template);
        Assert.Equal(TemplateErrorKind.Syntax, e.Kind);
        Assert.Equal(line, e.Line);
        Assert.Contains(detail, e.Message);
        Assert.StartsWith($"test.jinja, line {line}: template syntax error: ", e.Message);
    }

    [Theory]
    [InlineData("ok\n\n{% include 'x.jinja' %}", 3, "'{% include %}' tag")]
    [InlineData("{% extends 'base' %}", 1, "extends")]
    [InlineData("{% for x in y recursive %}{% endfor %}", 1, "recursive")]
    [InlineData("{% call m() %}{% endcall %}", 1, "call")]
    [InlineData("a\n{{ x|wordwrap(5) }}", 2, "the filter 'wordwrap'")]
    [InlineData("a\nb\n{{ 'a'.zfill(3) }}", 3, "str method 'zfill'")]
    [InlineData("{{ '%s' % 1 }}", 1, "printf-style")]
    [InlineData("\n{{ cycler(1, 2) }}", 2, "cycler")]
    [InlineData("{% for x in [1] %}\n{{ loop.changed(x) }}{% endfor %}", 2, "loop.changed")]
    [InlineData("{{ f(*args) }}", 1, "*args")]
    public void UnsupportedConstructsNameTheConstructAndLine(string template, int line, string construct)
    {
        var e = Fails(template, """{"x": "text", "y": [1]}""");
        Assert.Equal(TemplateErrorKind.Unsupported, e.Kind);
        Assert.Equal(line, e.Line);
        Assert.Contains(construct, e.Message);
        Assert.Contains($"line {line}: unsupported Jinja construct", e.Message);
    }

    [Theory]
    [InlineData("x\n{{ 'a' ~ nope.attr }}", 2, "'nope' is undefined")]
    [InlineData("{{ l.append(1) }}", 1, "access to attribute 'append' of 'list' object is unsafe")]
    [InlineData("{{ none < 1 }}", 1, "'<' not supported between instances of 'NoneType' and 'int'")]
    [InlineData("\n{{ 1 + 'a' }}", 2, "unsupported operand type(s) for +: 'int' and 'str'")]
    [InlineData("{{ d.x.y }}", 1, "'dict object' has no attribute 'x'")]
    [InlineData("{{ nope + 1 }}", 1, "'nope' is undefined")]
    [InlineData("{{ nope|tojson }}", 1, "not JSON serializable")]
    [InlineData("{% for a, b in [[1, 2, 3]] %}{% endfor %}", 1, "too many values to unpack")]
    [InlineData("{{ 1 // 0 }}", 1, "by zero")]
    [InlineData("{% set x = 1 %}{% set x.y = 2 %}", 1, "not a namespace")]
    [InlineData("{{ l|indent(2) }}", 1, "'list' object has no attribute 'splitlines'")]
    [InlineData("{{ 3|indent }}", 1, "unsupported operand type(s) for +=: 'int' and 'str'")]
    [InlineData("{{ d.items()|tojson }}", 1, "Object of type dict_items is not JSON serializable")]
    [InlineData("{{ nope|int }}", 1, "'nope' is undefined")]
    public void RuntimeErrorsAreJinja2sWithTheLine(string template, int line, string detail)
    {
        var e = Fails(template, """{"l": [1], "d": {}}""");
        Assert.Equal(TemplateErrorKind.Runtime, e.Kind);
        Assert.Equal(line, e.Line);
        Assert.Contains(detail, e.Message);
    }

    [Fact]
    public void RaiseExceptionCarriesTheTemplatesMessage()
    {
        var e = Fails("{% if messages|length == 0 %}\n{{ raise_exception('No messages: ' ~ messages|length) }}\n{% endif %}", """{"messages": []}""");
        Assert.Equal(TemplateErrorKind.Raised, e.Kind);
        Assert.Equal("No messages: 0", e.Detail);
        Assert.Equal("test.jinja, line 2: the chat template raised an error: No messages: 0", e.Message);
    }

    [Fact]
    public void HostileNestingIsRefusedNotAStackOverflow()
    {
        string deepParens = "{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}";
        string deepNot = "{{ " + string.Concat(Enumerable.Repeat("not ", 5000)) + "x }}";
        string deepIfs = string.Concat(Enumerable.Repeat("{% if true %}", 5000)) + string.Concat(Enumerable.Repeat("{% endif %}", 5000));
        // Deep enough that parsing it without the depth limit would overflow the stack.
        string deepTarget = "{% set " + new string('(', 200_000) + "a" + new string(')', 200_000) + " = [1] %}";
        foreach (var template in new[] { deepParens, deepNot, deepIfs, deepTarget })
        {
            var e = Fails(template);
            Assert.Equal(TemplateErrorKind.Limit, e.Kind);
            Assert.Contains("the template nests deeper than 200 levels (TemplateLimits.MaxDepth)", e.Message);
        }
        const string nest = "{% set ns = namespace(x=[]) %}{% for i in range(2000) %}{% set ns.x = [ns.x] %}{% endfor %}";
        foreach (var use in new[] { "{{ ns.x }}", "{{ ns.x|tojson }}", "{{ ns.x == ns.x[0] }}", "{{ ns.x < ns.x[0] }}" })
        {
            var e = Fails(nest + "\n" + use);
            Assert.Equal(TemplateErrorKind.Limit, e.Kind);
            Assert.Equal(2, e.Line);
            Assert.Contains("a value nests deeper than 200 levels (TemplateLimits.MaxDepth)", e.Message);
        }
    }
}
