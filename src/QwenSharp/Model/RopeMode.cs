namespace QwenSharp.Model;

/// <summary>
/// The rotary table one sequence runs under. A model whose config has YaRN in rope_scaling keeps both tables and
/// each sequence of a batch picks one (<see cref="BatchSequence.Rope"/>); the keys a sequence stores in the KV cache
/// were rotated under its table, so a sequence never mixes the two (the engine recomputes one that switches).
/// </summary>
public enum RopeMode
{
    /// <summary>The config's rope_scaling (YaRN) from position 0, as vLLM and llama.cpp apply it statically; on a
    /// model without rope_scaling, plain RoPE.</summary>
    Yarn,
    /// <summary>Plain RoPE: exactly the same weights without rope_scaling.</summary>
    Plain,
}

/// <summary>How an engine chooses each sequence's <see cref="RopeMode"/> on a model whose config has YaRN
/// (<c>--rope-scaling-mode</c>).</summary>
public enum RopeScalingMode
{
    /// <summary>Plain RoPE while the sequence fits within original_max_position_embeddings, YaRN beyond: the card's
    /// caution that static YaRN may hurt short texts, answered per sequence.</summary>
    LengthAware,
    /// <summary>YaRN for every sequence, as vLLM applies rope_scaling (the factor regardless of length).</summary>
    Static,
}

public static class RopeModeNames
{
    /// <summary>The allowed values of <c>--rope-scaling-mode</c>, as written on the command line.</summary>
    public const string Allowed = "length-aware, static";

    public static string Name(this RopeScalingMode mode) => mode == RopeScalingMode.Static ? "static" : "length-aware";

    public static string Name(this RopeMode rope) => rope == RopeMode.Plain ? "plain" : "yarn";

    /// <summary>Parses a <c>--rope-scaling-mode</c> value; throws naming the value and the allowed ones.</summary>
    public static RopeScalingMode ParseScalingMode(string value) => value.Trim().ToLowerInvariant() switch
    {
        "length-aware" => RopeScalingMode.LengthAware,
        "static" => RopeScalingMode.Static,
        _ => throw new ArgumentException($"--rope-scaling-mode '{value}' is not a mode; the allowed ones are {Allowed}."),
    };
}
