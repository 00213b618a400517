using System.Text.Json.Nodes;
using QwenSharp.Grammar;
using QwenSharp.Text.ToolCalls;

namespace QwenSharp.Server.OpenAi;

/// <summary>
/// A request's tools, tool_choice and parallel_tool_calls (OpenAI's chat API; Ollama's tools without a choice).
/// With tool_choice "auto" the model may write text and then calls, "required" at least one call, a named
/// function exactly that one; each is a grammar from the first token, so calls are always well-formed and the
/// markup never leaks into the text. "none" shows the tools to the model (as vLLM does by default) and parses nothing.
/// </summary>
public sealed record ToolRequest(IReadOnlyList<ToolDefinition> Tools, ToolChoice Choice, bool Parallel)
{
    /// <summary>Whether replies are parsed for calls.</summary>
    public bool CallsTools => Choice.Mode != ToolChoiceMode.None && Tools.Count > 0;

    /// <summary>The tools as the chat template sees them; null without tools.</summary>
    public string? TemplateJson => Tools.Count == 0 ? null : ToolDefinition.ToTemplateInput(Tools).ToJsonString();

    public static ToolRequest? Read(RequestFields f, bool hasChoice = true)
    {
        var toolsRaw = f.Raw("tools");
        var choiceRaw = hasChoice ? f.Raw("tool_choice") : null;
        bool parallel = hasChoice ? f.Bool("parallel_tool_calls") ?? true : true;
        if (toolsRaw is null && choiceRaw is null) return null;
        try
        {
            var tools = ToolDefinition.ParseAll(toolsRaw is { } t ? JsonNode.Parse(t.GetRawText()) : null);
            var choice = ToolChoice.Parse(choiceRaw is { } c ? JsonNode.Parse(c.GetRawText()) : null, tools);
            return new ToolRequest(tools, choice, parallel);
        }
        catch (ToolRequestException e)
        {
            throw ApiException.BadRequest(e.Message, e.Param);
        }
    }

    /// <summary>The grammar the reply must follow: calls as tool_choice allows them, or, under "auto", the text
    /// format the request asked for (<paramref name="text"/>, e.g. response_format) when it calls nothing; for
    /// "none", <paramref name="text"/> alone. A parameter schema that cannot be compiled is a 400 naming the tool.</summary>
    public StructuredOutput? Constraint(StructuredOutput? text = null)
    {
        if (!CallsTools) return text;
        try
        {
            return ToolCallGrammar.For(Tools, Choice, Parallel, text: text);
        }
        catch (GrammarException e)
        {
            // Which part could not be compiled: a tool's parameters (converted alone to find it) or the text format.
            for (int i = 0; i < Tools.Count; i++)
            {
                if (Tools[i].Parameters is not { } parameters) continue;
                try
                {
                    JsonSchemaGrammar.ToGbnf(parameters);
                }
                catch (GrammarException toolError)
                {
                    string param = $"tools[{i}].function.parameters";
                    throw ApiException.BadRequest($"'{param}' of '{Tools[i].Name}' cannot be used: {toolError.Message}", param);
                }
            }
            string where = text?.Param ?? "tools";
            throw ApiException.BadRequest($"'{where}' cannot be used with tools: {e.Message}", where);
        }
    }
}
