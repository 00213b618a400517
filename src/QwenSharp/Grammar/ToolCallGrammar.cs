using System.Text;
using System.Text.Json.Nodes;
using QwenSharp.Text.ToolCalls;

namespace QwenSharp.Grammar;

/// <summary>How a request lets the model call tools (OpenAI's tool_choice).</summary>
public enum ToolCallMode
{
    /// <summary>Text, then optionally calls: once the model opens a call, the rest is a valid call (llama.cpp's lazy grammar, here exact from the first token).</summary>
    Auto,
    /// <summary>At least one call and nothing else, from the first token.</summary>
    Required,
}

/// <summary>
/// GBNF for Qwen's tool calls (Qwen2.5's chat template, vLLM's hermes parser, Ollama's qwen2 template):
/// <c>&lt;tool_call&gt;\n{"name": "fn", "arguments": {…}}\n&lt;/tool_call&gt;</c>, the arguments valid against the
/// tool's parameter schema. Under <see cref="ToolCallMode.Auto"/> the text before the calls may be anything that
/// does not contain "&lt;tool_call&gt;", so a call is never left half-made or malformed and markup never reaches the text.
/// </summary>
public static class ToolCallGrammar
{
    public const string Open = "<tool_call>", Close = "</tool_call>";

    /// <summary>
    /// The constraint of a request with <paramref name="tools"/> under <paramref name="choice"/>: "auto" text then
    /// optional calls, "required" calls only, a named function exactly one call of it (parallel or not, it is the
    /// one chosen); null for "none" or no tools. An unusable parameter schema throws <see cref="GrammarException"/>.
    /// </summary>
    /// <param name="text">What the reply's text must be when the model answers instead of calling (a response
    /// format, under "auto"): then the reply is either that text or calls. Null: any text without the call tag.</param>
    public static StructuredOutput? For(IReadOnlyList<ToolDefinition> tools, ToolChoice choice, bool parallel, string param = "tools",
        StructuredOutput? text = null)
    {
        if (choice.Mode == ToolChoiceMode.None || tools.Count == 0) return text;
        var chosen = choice.Mode == ToolChoiceMode.Function ? tools.Where(t => t.Name == choice.FunctionName).ToList() : tools;
        var mode = choice.Mode == ToolChoiceMode.Auto ? ToolCallMode.Auto : ToolCallMode.Required;
        string gbnf = ToGbnf([.. chosen.Select(t => (t.Name, (JsonNode?)t.Parameters))], mode, parallel && choice.Mode != ToolChoiceMode.Function,
            mode == ToolCallMode.Auto ? text?.ToGbnf("answer", "a-") : null);
        return StructuredOutput.ToolCalls(gbnf, param);
    }

    /// <param name="tools">Name and parameter schema of each tool the model may call (null parameters: any object).</param>
    /// <param name="parallel">Whether several calls may follow one another (parallel_tool_calls).</param>
    /// <param name="answerGbnf">Under <see cref="ToolCallMode.Auto"/>, rules whose start rule "answer" is what the reply
    /// must be when it calls nothing (a response format): the reply is then that or calls. Null: text without the tag, then optional calls.</param>
    public static string ToGbnf(IReadOnlyList<(string Name, JsonNode? Parameters)> tools, ToolCallMode mode, bool parallel, string? answerGbnf = null)
    {
        if (tools.Count == 0) throw new GrammarException("Tool calls need at least one tool.");
        var gbnf = new StringBuilder();
        string calls = parallel ? "call ( \"\\n\" call )*" : "call";
        if (mode == ToolCallMode.Required) gbnf.Append($"root ::= {calls}\n");
        else if (answerGbnf is null) gbnf.Append($"root ::= text ( {calls} )?\n").Append("text ::= ").Append(TextWithout(Open)).Append('\n');
        else gbnf.Append($"root ::= answer | {calls}\n").Append(answerGbnf).Append('\n');
        gbnf.Append("call ::= ");
        for (int i = 0; i < tools.Count; i++)
        {
            if (i > 0) gbnf.Append(" | ");
            gbnf.Append($"call{i}");
        }
        gbnf.Append('\n');
        for (int i = 0; i < tools.Count; i++)
        {
            var (name, parameters) = tools[i];
            string head = Open + "\n{\"name\": " + System.Text.Json.JsonSerializer.Serialize(name) + ", \"arguments\": ";
            gbnf.Append($"call{i} ::= {Literal(head)} args{i} {Literal("}\n" + Close)}\n");
            gbnf.Append(parameters is null
                ? JsonSchemaGrammar.AnyObject($"args{i}", $"t{i}-")
                : JsonSchemaGrammar.ToGbnf(parameters, $"args{i}", $"t{i}-"));
            gbnf.Append('\n');
        }
        return gbnf.ToString();
    }

    /// <summary>
    /// A GBNF expression for any text that does not contain <paramref name="word"/>, whose first character occurs
    /// nowhere else in it (true of "&lt;tool_call&gt;"). From the word-matching automaton (Knuth–Morris–Pratt) by
    /// state elimination: a character other than the first, or the first character followed by restarts
    /// ((prefix) first)* and then a prefix broken by a character that neither continues it nor restarts it;
    /// the text may end inside such a run, with an unfinished prefix.
    /// </summary>
    public static string TextWithout(string word)
    {
        if (word.Length < 2 || word.IndexOf(word[0], 1) >= 0)
            throw new ArgumentException("The word must have at least two characters and a first character that does not recur.", nameof(word));
        string first = Literal(word[..1]);
        var prefixes = new List<string> { "\"\"" };
        var breaks = new List<string>();
        for (int k = 1; k < word.Length; k++)
        {
            string matched = word[1..k];
            breaks.Add((matched.Length > 0 ? Literal(matched) + " " : "") + $"[^{ClassChar(word[k])}{ClassChar(word[0])}]");
            if (k < word.Length - 1) prefixes.Add(Literal(word[1..(k + 1)]));
        }
        string restarts = $"( ( {string.Join(" | ", prefixes)} ) {first} )*";
        string broken = $"( {string.Join(" | ", breaks)} )";
        string unfinished = $"( {string.Join(" | ", prefixes)} )";
        return $"( [^{ClassChar(word[0])}] | {first} {restarts} {broken} )* ( {first} {restarts} {unfinished} )?";
    }

    /// <summary>A GBNF string literal.</summary>
    public static string Literal(string s)
    {
        var b = new StringBuilder("\"");
        foreach (char c in s)
            b.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ => c.ToString(),
            });
        return b.Append('"').ToString();
    }

    private static string ClassChar(char c) => c switch
    {
        ']' or '[' or '^' or '-' or '\\' => "\\" + c,
        _ => c.ToString(),
    };
}
