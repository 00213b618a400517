using System.Text;
using System.Text.Json.Nodes;
using QwenSharp.Grammar;

namespace QwenSharp.Tests.Grammar;

/// <summary>
/// The tool-call grammar on its own: "text without &lt;tool_call&gt;" equals string.Contains on every string of a small
/// alphabet that makes near-misses likely, and calls are exactly Qwen's block shape. Checked byte by byte through
/// <see cref="GrammarMatcher.AcceptBytes"/> over a vocabulary of single bytes.
/// </summary>
public sealed class ToolCallGrammarTests
{
    private static readonly GrammarVocabulary Bytes = new([.. Enumerable.Range(0, 256).Select(b => (byte[]?)[(byte)b]), null], [256]);

    private static bool Accepts(string gbnf, string text, bool complete)
    {
        var matcher = new GrammarMatcher(CompiledGrammar.Compile(gbnf, Bytes));
        return matcher.AcceptBytes(Encoding.UTF8.GetBytes(text)) && (!complete || matcher.CanEnd);
    }

    [Fact]
    public void Text_without_the_tag_is_exactly_the_strings_that_do_not_contain_it()
    {
        string gbnf = "root ::= " + ToolCallGrammar.TextWithout("<tool_call>");
        const string alphabet = "<tool_cal>x";
        var random = new Random(7);
        var cases = new List<string> { "", "<", "<tool_call", "<tool_call>", "<<tool_call>", "<tool_<tool_call>", "a<tool_call>b", "<tool_cal>", "é<t中" };
        for (int i = 0; i < 3000; i++)
        {
            int length = random.Next(0, 24);
            var s = new StringBuilder();
            for (int k = 0; k < length; k++) s.Append(alphabet[random.Next(alphabet.Length)]);
            // Plant the word (or most of it) often, so near-misses are common.
            if (random.Next(3) == 0) s.Insert(random.Next(s.Length + 1), "<tool_call>"[..random.Next(8, 12)]);
            cases.Add(s.ToString());
        }
        foreach (var text in cases)
            Assert.True(Accepts(gbnf, text, complete: true) == !text.Contains("<tool_call>", StringComparison.Ordinal), text);
    }

    [Fact]
    public void Calls_have_qwens_shape_and_valid_arguments()
    {
        var parameters = JsonNode.Parse("""{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}""");
        string required = ToolCallGrammar.ToGbnf([("get_weather", parameters)], ToolCallMode.Required, parallel: false);
        string call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
        Assert.True(Accepts(required, call, complete: true));
        Assert.False(Accepts(required, "Sure. " + call, complete: false)); // required: a call from the first byte
        Assert.False(Accepts(required, call.Replace("get_weather", "get_time"), complete: false));
        Assert.False(Accepts(required, call.Replace("\"city\"", "\"town\""), complete: false));
        Assert.False(Accepts(required, call + "\n" + call, complete: false)); // one call unless parallel

        string auto = ToolCallGrammar.ToGbnf([("get_weather", parameters)], ToolCallMode.Auto, parallel: true);
        Assert.True(Accepts(auto, "Just text, no call.", complete: true));
        Assert.True(Accepts(auto, "Let me look.\n" + call + "\n" + call, complete: true));
        Assert.False(Accepts(auto, "text <tool_call>\nnot json", complete: false));
    }
}
