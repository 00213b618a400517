using QwenSharp.Model;

namespace QwenSharp.Engine;

/// <summary>
/// What a finished sequence ran under, for its response (the server's sampling_params.rope_scaling): the engine's mode, the
/// table, and the token count at which it was recomputed under YaRN (null when it never was).
/// </summary>
public sealed record RopeReport(RopeScalingMode Mode, RopeMode Rope, int? RecomputedAtTokens);

public static class RopeReportJson
{
    /// <summary>The report as a response carries it (sampling_params.rope_scaling): {"mode": "length-aware"|"static",
    /// "rope": "plain"|"yarn", "recomputed_at_tokens": N (only when recomputed)}.</summary>
    public static System.Text.Json.Nodes.JsonObject ToJson(this RopeReport report)
    {
        var o = new System.Text.Json.Nodes.JsonObject { ["mode"] = report.Mode.Name(), ["rope"] = report.Rope.Name() };
        if (report.RecomputedAtTokens is int at) o["recomputed_at_tokens"] = at;
        return o;
    }
}
