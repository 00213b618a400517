namespace QwenSharp.Model;

/// <summary>
/// A config's <c>rope_scaling</c> block. Only YaRN is supported, applied as vLLM does: statically from position 0,
/// with <see cref="Factor"/> and <see cref="OriginalMaxPositionEmbeddings"/> taken as written (never derived from
/// max_position_embeddings), and the correction range from <see cref="BetaFast"/> / <see cref="BetaSlow"/>
/// (vLLM's and the YaRN paper's defaults 32 and 1). An absent original_max_position_embeddings reads as 0, which
/// <see cref="Qwen2Config.Validate"/> refuses for YaRN.
/// </summary>
public sealed record RopeScaling(string Type, double Factor, int OriginalMaxPositionEmbeddings, double BetaFast = 32, double BetaSlow = 1)
{
    public const string Yarn = "yarn";

    public bool IsYarn => Type == Yarn;
}
