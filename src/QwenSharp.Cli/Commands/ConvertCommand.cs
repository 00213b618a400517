using System.Diagnostics;
using QwenSharp.Quantization;

namespace QwenSharp.Cli.Commands;

/// <summary>`qwensharp convert`: a Hugging Face Qwen2 folder written as one GGUF file, as llama.cpp's
/// convert_hf_to_gguf.py writes it.</summary>
public sealed class ConvertCommand : ICliCommand
{
    public string Name => "convert";
    public string Summary => "Convert a Hugging Face Qwen2 folder to GGUF (f32, f16, bf16, q8_0) as convert_hf_to_gguf.py does.";
    public IReadOnlyList<string> Flags => [];
    public string Usage => $"""
        qwensharp convert <hf folder> <out.gguf> [--outtype f32|f16|bf16|q8_0|auto] [--threads N]
          <hf folder>: config.json, tokenizer.json (+ tokenizer_config.json), safetensors in f32/f16/bf16 (sharded or not).
          --outtype   the weight matrices' type (default f16, as the script's); norms and biases stay f32;
                      auto takes the folder's own type (bf16 or f16). For Q4_K_M etc. quantize the result.
        """;

    public int Run(CliArgs args, TextWriter stdout, TextWriter stderr)
    {
        string outType = args.Get("--outtype") ?? "f16";
        int threads = args.GetInt("--threads", 0, 0, 1024);
        var positional = args.Positional;
        args.EnsureAllUsed();
        if (positional.Count != 2)
            throw new CliException($"convert takes <hf folder> <out.gguf>; got {positional.Count} argument(s).");
        string input = positional[0], output = positional[1];
        var clock = Stopwatch.StartNew();
        QuantizeFileType written;
        try
        {
            written = GgufConverter.Run(input, output, GgufConverter.ParseOutType(outType), threads, QuantizeProgressPrinter.For(stderr).Report);
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException or FormatException or NotSupportedException
            or DirectoryNotFoundException or System.Text.Json.JsonException)
        {
            throw new CliException(e.Message);
        }
        long inBytes = QwenSharp.Model.ModelFiles.WeightBytes(input);
        long outBytes = new FileInfo(output).Length;
        stdout.WriteLine($"wrote {output} ({written}, {inBytes / 1e6:F1} MB -> {outBytes / 1e6:F1} MB) in {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
}
