using System.Text.Json.Nodes;

namespace QwenSharp.Tests.ToolCalls;

/// <summary>fixtures/tool-calls/cases.json: assistant texts with what vLLM's hermes parser makes of them,
/// computed by fixtures/tool-calls/make_cases.py with Python's re and json.</summary>
public sealed record ToolCallCase(string Name, string Text, bool ToolsCalled, string? Content, IReadOnlyList<(string Name, string Arguments)> Calls,
    bool RepeatsAKey)
{
    private static readonly Lazy<IReadOnlyList<ToolCallCase>> Loaded = new(() =>
        ((JsonArray)JsonNode.Parse(File.ReadAllText(Fixtures.Path("tool-calls/cases.json")))!)
        .Select(c => new ToolCallCase(
            (string)c!["name"]!,
            (string)c["text"]!,
            (bool)c["tools_called"]!,
            (string?)c["content"],
            ((JsonArray)c["calls"]!).Select(x => ((string)x!["name"]!, (string)x["arguments"]!)).ToList(),
            (bool)c["repeats_a_key"]!))
        .ToList());

    public static IReadOnlyList<ToolCallCase> All => Loaded.Value;

    public static ToolCallCase Get(string name) => All.First(c => c.Name == name);

    public static IEnumerable<object[]> Names() => All.Select(c => new object[] { c.Name });
}
