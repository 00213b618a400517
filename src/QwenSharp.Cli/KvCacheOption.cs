using QwenSharp.Tensors;

namespace QwenSharp.Cli;

/// <summary>
/// <c>--kv-cache-dtype</c>: the KV cache's type, f16 unless given. llama.cpp's names (f32, f16, bf16, q8_0) everywhere, and
/// its <c>-ctk/--cache-type-k</c>, <c>-ctv/--cache-type-v</c> (one type serves both here, so they must agree); with
/// <paramref name="vllm"/> (serve) also vLLM's spellings of the flag's values (auto, fp16, bfloat16, fp32).
/// </summary>
internal static class KvCacheOption
{
    public const string Help = "--kv-cache-dtype T  KV cache type: f16 (default), bf16, q8_0 or f32 (llama.cpp's -ctk/-ctv)";

    public static KvCacheType Read(CliArgs args, bool vllm = false)
    {
        var given = new List<(string Option, string Value)>();
        foreach (var (name, alias) in new[] { ("--kv-cache-dtype", (string?)null), ("--cache-type-k", "-ctk"), ("--cache-type-v", "-ctv") })
            if (args.Get(name, alias) is { } value) given.Add((name, value));
        if (given.Count == 0) return KvCacheType.F16;
        var types = new List<KvCacheType>();
        foreach (var (option, value) in given)
        {
            try { types.Add(KvCacheTypes.Parse(value, vllm)); }
            catch (ArgumentException e) { throw new CliException($"Option {option}: {e.Message}"); }
        }
        if (types.Distinct().Count() > 1)
            throw new CliException($"Keys and values share one cache type here; {string.Join(" and ", given.Select(g => $"{g.Option} {g.Value}"))} differ.");
        return types[0];
    }
}
