using System.Globalization;
using QwenSharp.Formats;

namespace QwenSharp.Quantization;

/// <summary>What llama.cpp's per-tensor choices read from the model's hyperparameters: query heads per key/value
/// head (llama_hparams::n_gqa of layer 0, 0 when there are no key/value heads), the layer count, from which
/// llama.cpp's Qwen2 loader names the model size (80 layers: its "70B" type, whose attn_v gets more bits), and the
/// expert count (0 for a dense model; 8 takes Mixtral's rules). Keys are read under the file's architecture prefix.</summary>
public sealed record QuantizeModelInfo(int HeadsPerKvHead, int Layers, int Experts = 0)
{
    public static QuantizeModelInfo Unknown { get; } = new(1, 0);

    public static QuantizeModelInfo FromMetadata(IReadOnlyList<(string Key, object Value)> metadata)
    {
        string arch = metadata.FirstOrDefault(kv => kv.Key == GgufNames.Keys.GeneralArchitecture).Value as string ?? GgufNames.Architecture;
        string K(string key) => GgufNames.Keys.Under(arch, key);
        long heads = Number(metadata, K(GgufNames.Keys.HeadCount)) ?? 0;
        long kvHeads = Number(metadata, K(GgufNames.Keys.HeadCountKv)) ?? heads;
        long layers = Number(metadata, K(GgufNames.Keys.BlockCount)) ?? 0;
        long experts = Number(metadata, arch + ".expert_count") ?? 0;
        return new QuantizeModelInfo(kvHeads > 0 ? (int)Math.Clamp(heads / kvHeads, 0, int.MaxValue) : 0,
            (int)Math.Clamp(layers, 0, int.MaxValue), (int)Math.Clamp(experts, 0, int.MaxValue));
    }

    /// <summary>A whole-number key's value; for a per-layer array (as some architectures store head counts), layer 0's.</summary>
    private static long? Number(IReadOnlyList<(string Key, object Value)> metadata, string key)
    {
        object? value = metadata.FirstOrDefault(kv => kv.Key == key).Value;
        if (value is GgufArray { Count: > 0 } array) value = array.Items.GetValue(0);
        return value is IConvertible c and not string and not bool and not float and not double
            ? Convert.ToInt64(c, CultureInfo.InvariantCulture) : null;
    }
}
