using System.Text.Json.Nodes;
using QwenSharp.Text.Jinja;

namespace QwenSharp.Tests.Text;

/// <summary>
/// The interpreter on small templates. Every expected string here is what Jinja2 3.1.6 rendered for the
/// template and JSON context, in transformers' apply_chat_template environment (ImmutableSandboxedEnvironment,
/// trim_blocks, lstrip_blocks, loopcontrols, HF's tojson and raise_exception).
/// </summary>
public class JinjaInterpreterTests
{
    internal static string Render(string template, string contextJson = "{}")
    {
        var variables = new Dictionary<string, object?>();
        foreach (var (name, value) in (JsonObject)JsonNode.Parse(contextJson)!) variables[name] = JsonValues.FromNode(value);
        return JinjaTemplate.Parse(template, "test.jinja").Render(variables);
    }

    [Theory]
    [InlineData("{% if true %}\n  yes\n{% endif %}\nafter", "{}", "  yes\nafter")]
    [InlineData("  {% if true %}\n    x\n  {% endif %}\ndone", "{}", "    x\ndone")]
    [InlineData("a  {%- if true -%}  b  {%- endif -%}  c", "{}", "abc")]
    [InlineData("a\n{{- ' b ' -}}\nc", "{}", "a b c")]
    [InlineData("line\n    {%+ if true %}kept{% endif %}", "{}", "line\n    kept")]
    [InlineData("{% if true +%}\nnewline kept{% endif %}", "{}", "\nnewline kept")]
    [InlineData("x {# a comment #}\ny\n  {# indented comment #}\nz", "{}", "x y\nz")]
    [InlineData("{% raw %}{{ not evaluated }}{% endraw %}!", "{}", "{{ not evaluated }}!")]
    [InlineData("a\r\nb\rc\n", "{}", "a\nb\nc")]
    [InlineData("ends with two newlines\n\n", "{}", "ends with two newlines\n")]
    [InlineData("  {{ 'var tags are not lstripped' }}\n{% if true %}\n{% endif %}", "{}", "  var tags are not lstripped\n")]
    [InlineData("{% for x in items %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}", "{\"items\": [\"a\", \"b\", \"c\"]}", "1032TrueFalse3;2121FalseFalse3;3210FalseTrue3;")]
    [InlineData("{% for x in items %}{{ x }}{% else %}empty{% endfor %}", "{\"items\": []}", "empty")]
    [InlineData("{% for x in items if x > 1 %}{{ x }}/{{ loop.length }}{{ ',' if not loop.last }}{% endfor %}", "{\"items\": [1, 2, 3]}", "2/2,3/2")]
    [InlineData("{% for x in items %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}", "{\"items\": [1, 2, 3, 4, 5]}", "13")]
    [InlineData("{% for k, v in d.items() %}{{ k }}={{ v }} {% endfor %}", "{\"d\": {\"b\": 1, \"a\": [1, 2]}}", "b=1 a=[1, 2] ")]
    [InlineData("{% for k in d %}{{ k }}{% endfor %}", "{\"d\": {\"z\": 1, \"y\": 2}}", "zy")]
    [InlineData("{% for c in s %}[{{ c }}]{% endfor %}", "{\"s\": \"a\ud83d\ude00b\"}", "[a][\ud83d\ude00][b]")]
    [InlineData("{% for x in items %}{{ loop.previtem }}-{{ x }}-{{ loop.nextitem }} {% endfor %}", "{\"items\": [1, 2, 3]}", "-1-2 1-2-3 2-3- ")]
    [InlineData("{% for x in items %}{{ loop.cycle('odd', 'even') }} {% endfor %}", "{\"items\": [1, 2, 3]}", "odd even odd ")]
    [InlineData("{% for a, b in pairs %}{{ a }}{{ b }}{% endfor %}", "{\"pairs\": [[1, 2], [3, 4]]}", "1234")]
    [InlineData("{% set x = 5 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}", "{}", "51525")]
    [InlineData("{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}", "{}", "2")]
    [InlineData("{% set ns = namespace(n=0, items=[]) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}", "{}", "6")]
    [InlineData("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = (3, 4) %}{{ t }}", "{}", "12(3, 4)")]
    [InlineData("{% set block %}inner {{ 1 + 1 }}{% endset %}[{{ block }}]", "{}", "[inner 2]")]
    [InlineData("{% with y = 3 %}{{ y }}{% endwith %}[{{ y }}]", "{}", "3[]")]
    [InlineData("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', punct='?') }} {{ greet(name='C') }}", "{}", "Hi A! Hi B? Hi C!")]
    [InlineData("{% macro show(x) %}{{ x is defined }}{% endmacro %}{{ show() }}", "{}", "False")]
    [InlineData("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }}", "{}", "7 9 3.5 3 -4 1 2 1024 0.5")]
    [InlineData("{{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1.5e-7 }} {{ 3.0 }} {{ 100.0 / 3 }} {{ 1e15 }} {{ 0.0001 }} {{ -0.0 }} {{ 2.5e300 * 1e10 }}", "{}", "0.30000000000000004 1e+16 1.5e-07 3.0 33.333333333333336 1000000000000000.0 0.0001 -0.0 inf")]
    [InlineData("{{ 1 ~ 2.0 ~ none ~ true ~ false ~ [1, 'a'] }}", "{}", "12.0NoneTrueFalse[1, 'a']")]
    [InlineData("{{ [1, 2.5, 'it''s', \"q'uote\", none, true, {'k': [1]}] }} {{ (1,) }} {{ () }} {{ {} }}", "{}", "[1, 2.5, 'its', \"q'uote\", None, True, {'k': [1]}] (1,) () {}")]
    [InlineData("{{ 'tab\\there' }}|{{ 'nl\\nx' }}|{{ '\\u00e9\\x41\\101' }}|{{ 'unknown \\d' }}|{{ \"dq \\\" \" }}", "{}", "tab\there|nl\nx|éAA|unknown \\d|dq \" ")]
    [InlineData("{{ ['a\\nb', 'it\\'s', '\\x00', 'é', '\u200b'] }}", "{}", "['a\\nb', \"it's\", '\\x00', 'é', '\\u200b']")]
    [InlineData("{{ s[0] }}{{ s[-1] }}{{ s[1:3] }}{{ s[::-1] }}{{ s[::2] }}{{ s[5:] }}|{{ items[-2:] }}{{ items[:-1] }}{{ items[::-1] }}", "{\"s\": \"abcdef\", \"items\": [1, 2, 3]}", "afbcfedcbaacef|[2, 3][1, 2][3, 2, 1]")]
    [InlineData("{{ s[1] }}{{ s|length }}{{ s[::-1] }}", "{\"s\": \"a\ud83d\ude00b\"}", "\ud83d\ude003b\ud83d\ude00a")]
    [InlineData("{{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' == 'a' }} {{ [1] == [1] }} {{ none == none }} {{ 'a' != 'b' }} {{ 1 < 2 < 3 }} {{ 'b' > 'a' }} {{ [1, 2] < [1, 3] }}", "{}", "True True True True True True True True True")]
    [InlineData("{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }} {{ 'x' not in 'xyz' }}", "{}", "True True True True False")]
    [InlineData("{{ 'yes' if x else 'no' }} {{ 'a' if false }}| {{ x and 'both' }} {{ 0 or 'fallback' }} {{ not x }} {{ '' or [] }}", "{\"x\": true}", "yes | both fallback False []")]
    [InlineData("{{ x }}|{{ x is undefined }}|{{ d.missing }}|{{ d['missing'] is defined }}|{{ x|default('dflt') }}|{{ x|length }}|{{ x ~ 'c' }}|{% for i in x %}no{% endfor %}|{{ x == x }}", "{\"d\": {}}", "|True||False|dflt|0|c||True")]
    [InlineData("{{ none }} {{ none is none }} {{ x is none }} {{ x is not none }}", "{\"x\": null}", "None True True False")]
    [InlineData("{{ 'a' is string }} {{ 1 is number }} {{ true is number }} {{ true is integer }} {{ 1.0 is float }} {{ 1 is integer }} {{ {} is mapping }} {{ [] is sequence }} {{ [] is iterable }} {{ 'x' is sequence }} {{ true is boolean }} {{ 1 is boolean }} {{ true is true }} {{ 1 is true }} {{ false is false }}", "{}", "True True True False True True True True True True True False True False True")]
    [InlineData("{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 2 is in [1, 2] }} {{ 1 is eq 1 }} {{ 1 is lt 2 }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ none is sameas none }} {{ x is callable }}", "{\"x\": \"s\"}", "True True True False True True True True True True False")]
    [InlineData("{{ tools|tojson }}", "{\"tools\": [{\"name\": \"f\", \"desc\": \"é \\\"q\\\" \\\\ \\n\\t/\\u0001\", \"n\": 1, \"f\": 2.5, \"b\": true, \"z\": null, \"l\": [], \"o\": {}}]}", "[{\"name\": \"f\", \"desc\": \"é \\\"q\\\" \\\\ \\n\\t/\\u0001\", \"n\": 1, \"f\": 2.5, \"b\": true, \"z\": null, \"l\": [], \"o\": {}}]")]
    [InlineData("{{ d|tojson(indent=2) }}|{{ d|tojson(sort_keys=true) }}|{{ d|tojson(separators=(',', ':')) }}|{{ d|tojson(ensure_ascii=true) }}|{{ [] |tojson(indent=2) }}", "{\"d\": {\"b\": [1, {\"x\": null}], \"a\": \"ü\ud83d\ude00\"}}", "{\n  \"b\": [\n    1,\n    {\n      \"x\": null\n    }\n  ],\n  \"a\": \"ü\ud83d\ude00\"\n}|{\"a\": \"ü\ud83d\ude00\", \"b\": [1, {\"x\": null}]}|{\"b\":[1,{\"x\":null}],\"a\":\"ü\ud83d\ude00\"}|{\"b\": [1, {\"x\": null}], \"a\": \"\\u00fc\\ud83d\\ude00\"}|[]")]
    [InlineData("{{ d|tojson(indent='\\t') }}", "{\"d\": {\"a\": [1, 2]}}", "{\n\t\"a\": [\n\t\t1,\n\t\t2\n\t]\n}")]
    [InlineData("{{ 1.0|tojson }} {{ 1e-7|tojson }} {{ 'x'|tojson }} {{ none|tojson }} {{ (1, 2)|tojson }}", "{}", "1.0 1e-07 \"x\" null [1, 2]")]
    [InlineData("[{{ '  x y \\n'|trim }}] [{{ 'xxhixx'|trim('x') }}] {{ [1, 2]|length }} {{ 'abc'|count }} {{ {'a': 1}|length }}", "{}", "[x y] [hi] 2 3 1")]
    [InlineData("{{ [1, 'a', none]|join(', ') }} {{ ['x', 'y']|join }} {{ users|join(', ', attribute='name') }}", "{\"users\": [{\"name\": \"A\"}, {\"name\": \"B\"}]}", "1, a, None xy A, B")]
    [InlineData("{{ none|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} {{ 0|d('z', true) }} {{ u|d('undef') }}", "{}", "None  d z undef")]
    [InlineData("{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ 'abc'|first }} {{ 'abc'|list }} {{ {'a': 1, 'b': 2}|list }} {{ 12|string ~ 'x' }}", "{}", "1 3 a ['a', 'b', 'c'] ['a', 'b'] 12x")]
    [InlineData("{{ 'Hello World'|lower }} {{ 'Hello'|upper }} {{ 'hello world'|title }} {{ 'hELLO'|capitalize }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 'abc'|replace('', '-') }}", "{}", "hello world HELLO Hello World Hello bba -a-b-c-")]
    [InlineData("{{ d|items|list }} {% for k, v in d|items %}{{ k }}{{ v }}{% endfor %} {{ d|dictsort }} {{ d|dictsort(by='value', reverse=true) }}", "{\"d\": {\"b\": 1, \"a\": 2}}", "[('b', 1), ('a', 2)] b1a2 [('a', 2), ('b', 1)] [('a', 2), ('b', 1)]")]
    [InlineData("{{ msgs|selectattr('role', 'equalto', 'user')|map(attribute='content')|join('|') }} {{ msgs|rejectattr('role', 'eq', 'user')|list|length }} {{ msgs|selectattr('tool')|list|length }} {{ msgs|map(attribute='missing', default='-')|join }}", "{\"msgs\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\", \"tool\": 1}, {\"role\": \"user\", \"content\": \"c\"}]}", "a|c 1 1 ---")]
    [InlineData("{{ [3, 1, 2]|sort }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }} {{ [1, 2, 1, 3]|unique|list }} {{ [3, 1, 2]|sort(reverse=true) }} {{ items|sort(attribute='n')|map(attribute='n')|list }}", "{\"items\": [{\"n\": 2}, {\"n\": 1}]}", "[1, 2, 3] ['A', 'b', 'c'] ['A', 'b', 'c'] [1, 2, 3] [3, 2, 1] [1, 2]")]
    [InlineData("{{ [1, 2, 3]|sum }} {{ [1, 2, 3]|min }} {{ [1, 2, 3]|max }} {{ [1, 2]|reverse|list }} {{ 'abc'|reverse }} {{ -3|abs }} {{ '42'|int + 1 }} {{ '4.7'|int }} {{ 'x'|int(7) }} {{ '2.5'|float }} {{ 2.567|round(2) }} {{ 2.5|round }} {{ [1, 2]|map('string')|join('+') }} {{ ['a', '', 'b']|select|list }} {{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 2, 3]|reject('even')|list }}", "{}", "6 1 3 [2, 1] cba 3 43 4 7 2.5 2.57 2.0 1+2 ['a', 'b'] [1, 3] [1, 3]")]
    [InlineData("{{ 'a\\nb\\n\\nc'|indent(2) }}|{{ 'a\\nb'|indent(2, first=true) }}|{{ 'x'|center(5) }}|{{ 'one two, three'|wordcount }}|{{ '<b>'|safe }}|{{ '<a href=\"x\">'|e }}", "{}", "a\n  b\n\n  c|  a\n  b|  x  |3|<b>|&lt;a href=&#34;x&#34;&gt;")]
    [InlineData("{{ s.startswith('ab') }} {{ s.endswith(('x', 'ef')) }} {{ s.split('c') }} {{ ' a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ s.upper() }} {{ 'AB'.lower() }} {{ s.replace('c', 'C') }}", "{\"s\": \"abcdef\"}", "True True ['ab', 'def'] ['a', 'b'] ['a', 'b,c'] ['a,b', 'c'] ABCDEF ab abCdef")]
    [InlineData("[{{ '\\n x \\n'.strip() }}] [{{ '\\n x \\n'.lstrip() }}] [{{ '\\n x \\n'.rstrip() }}] [{{ '<<x>>'.strip('<>') }}] [{{ 'xx'.lstrip('x') }}] {{ 'hello world'.title() }} {{ 'abcabc'.find('c') }} {{ 'abcabc'.rfind('c') }} {{ 'abcabc'.count('bc') }} {{ '-'.join(['a', 'b']) }} {{ 'a\\nb\\r\\nc'.splitlines() }}", "{}", "[x] [x \n] [\n x] [x] [] Hello World 2 5 2 a-b ['a', 'b', 'c']")]
    [InlineData("{{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 'dflt') }} {{ d.keys()|list }} {{ d.values()|list }} {{ d['a'] }} {{ d.a }} {{ d['items'] }}", "{\"d\": {\"a\": 1, \"items\": \"key named items\"}}", "1 None dflt ['a', 'items'] [1, 'key named items'] 1 1 key named items")]
    [InlineData("{{ content.split('</think>')[-1].lstrip('\\n') }}|{{ content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}", "{\"content\": \"<think>\\nreason\\n</think>\\n\\nanswer\"}", "answer|reason")]
    [InlineData("{{ x.y }}|{{ l.append }}|{{ s.nomethod }}|", "{\"x\": {\"y\": \"ok\"}, \"l\": [1], \"s\": \"str\"}", "ok|||")]
    [InlineData("{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(3, 0, -1)|list }} {{ dict(a=1, b='x') }} {{ namespace(a=1).a }}", "{}", "[0, 1, 2] [1, 3, 5] [3, 2, 1] {'a': 1, 'b': 'x'} 1")]
    [InlineData("{% set d = {'k': 'v', 1: 'one'} %}{{ d.k }}{{ d[1] }}{{ d['k'] }}{{ {'a': 1}['a'] }}{{ [[1, 2]][0][1] }}{{ d.1 is defined }}", "{}", "vonev12True")]
    [InlineData("{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% else %}{% set loop_messages = messages %}{% endif %}{% for m in loop_messages %}{{ m.role }}:{{ m['content'] }}\n{% endfor %}", "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"U\"}]}", "user:U\n")]
    [InlineData("{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('roles must alternate') }}{% endif %}{{ '[INST] ' + message['content'] + ' [/INST]' if message['role'] == 'user' else message['content'] + eos_token }}{% endfor %}", "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}], \"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}", "<s>[INST] q [/INST]a</s>")]
    [InlineData("{%- for message in messages %}\n    {%- if message.role == 'user' %}\n        {{- 'U: ' + message.content }}\n    {%- endif %}\n{%- endfor %}\n", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", "U: hi")]
    [InlineData("{{ 2.675|round(2) }} {{ 0.5|round }} {{ 1.5|round }} {{ -2.5|round }} {{ 15|round(-1) }} {{ -25|round(-1) }} {{ 7|round }} {{ 1234.5678|round(-2) }} {{ 2.7|round(method='floor') }} {{ 2.1|round(0, 'ceil') }} {{ 1e-20|round(25) }}", "{}", "2.67 0.0 2.0 -2.0 20 -20 7 1200.0 2.0 3.0 1e-20")]

    public void RendersLikeJinja2(string template, string contextJson, string expected)
    {
        Assert.Equal(expected, Render(template, contextJson));
    }
}
