using System.Diagnostics;
using QwenSharp.Formats;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Cli.Commands;

/// <summary>`qwensharp random-model`: a random-weight model of a real shape, for tests and benchmarks.</summary>
public sealed class RandomModelCommand : ICliCommand
{
    public string Name => "random-model";
    public string Summary => "Write a random-weight Qwen2 model of a config's shape (GGUF file or HF folder).";
    public IReadOnlyList<string> Flags => [];
    public string Usage => """
        qwensharp random-model --config <config.json> --out <dir | file.gguf> [--dtype f32|f16|bf16|q8_0|q4_0|q4_k]
                               [--seed N] [--tokenizer <dir>] [--generation-config <file>] [--shard-size-mb N]
          --out ending in .gguf writes one self-contained GGUF (tokenizer and chat template inside);
          otherwise a Hugging Face folder (config.json, generation_config.json, tokenizer files, safetensors).
          --generation-config defaults to <config stem>.generation_config.json or generation_config.json beside the config.
        """;

    public int Run(CliArgs args, TextWriter stdout, TextWriter stderr)
    {
        string configPath = args.Required("--config");
        string output = args.Required("--out");
        string dtypeText = args.Get("--dtype") ?? "f16";
        ulong seed = (ulong)args.GetInt("--seed", 42, 0);
        string? tokenizer = args.Get("--tokenizer");
        string? generationConfig = args.Get("--generation-config") ?? FindGenerationConfig(configPath);
        int shardMb = args.GetInt("--shard-size-mb", 5 * 1024, 1);
        args.EnsureAllUsed();

        var type = ParseType(dtypeText);
        var config = Qwen2Config.FromFile(configPath);
        if (tokenizer != null && !File.Exists(Path.Combine(tokenizer, "tokenizer.json")))
            throw new CliException($"--tokenizer {tokenizer} has no tokenizer.json.");

        var clock = Stopwatch.StartNew();
        if (output.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
        {
            var vocab = tokenizer != null
                ? GgufTokenizerExport.FromHuggingFace(tokenizer, config.VocabSize, config.EosTokenId, config.BosTokenId)
                : GgufTokenizerExport.BytesOnly(config.VocabSize);
            RandomModel.WriteGguf(config, output, type, seed, vocab);
            stdout.WriteLine($"wrote {output} ({new FileInfo(output).Length / 1e6:F1} MB, {type}) in {clock.Elapsed.TotalSeconds:F1} s");
        }
        else
        {
            RandomModel.WriteFolder(config, output, type, seed, tokenizer, generationConfig, (long)shardMb << 20);
            long bytes = Directory.EnumerateFiles(output).Sum(f => new FileInfo(f).Length);
            stdout.WriteLine($"wrote {output}/ ({bytes / 1e6:F1} MB, {type}) in {clock.Elapsed.TotalSeconds:F1} s");
        }
        return 0;
    }

    private static string? FindGenerationConfig(string configPath)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(configPath))!;
        string stem = Path.GetFileNameWithoutExtension(configPath);
        foreach (var candidate in new[] { Path.Combine(dir, stem + ".generation_config.json"), Path.Combine(dir, "generation_config.json") })
            if (File.Exists(candidate)) return candidate;
        return null;
    }

    public static GgmlType ParseType(string text) => text.ToLowerInvariant() switch
    {
        "f32" or "float32" => GgmlType.F32,
        "f16" or "float16" => GgmlType.F16,
        "bf16" or "bfloat16" => GgmlType.BF16,
        "q8_0" => GgmlType.Q8_0,
        "q4_0" => GgmlType.Q4_0,
        "q4_k" or "q4_k_m" => GgmlType.Q4_K,
        _ => throw new CliException($"--dtype {text} is not one of f32, f16, bf16, q8_0, q4_0, q4_k."),
    };
}
