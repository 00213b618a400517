using QwenSharp.Model;

namespace QwenSharp.Cli;

/// <summary>
/// <c>--rope-scaling-mode length-aware|static</c> (serve, generate, chat, perplexity): how a model whose config has YaRN picks
/// each sequence's rotary table (<see cref="RopePolicy"/>); length-aware unless given, no effect without rope_scaling.
/// </summary>
internal static class RopeScalingOption
{
    public const string Help = "--rope-scaling-mode M  with YaRN in the config: length-aware (default: plain RoPE while a sequence fits\n" +
                               "                       original_max_position_embeddings, YaRN beyond) or static (YaRN always, as vLLM)";

    public static RopeScalingMode Read(CliArgs args)
    {
        if (args.Get("--rope-scaling-mode") is not { } value) return RopeScalingMode.LengthAware;
        try { return RopeModeNames.ParseScalingMode(value); }
        catch (ArgumentException e) { throw new CliException(e.Message); }
    }
}
