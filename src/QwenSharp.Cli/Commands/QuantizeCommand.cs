using System.Diagnostics;
using QwenSharp.Quantization;

namespace QwenSharp.Cli.Commands;

/// <summary>`qwensharp quantize`: a GGUF model rewritten in another file type, as llama-quantize writes it.</summary>
public sealed class QuantizeCommand : ICliCommand
{
    public string Name => "quantize";
    public string Summary => "Quantize a GGUF model or HF folder to Q4_K_M, Q8_0, ... byte-identical to llama-quantize.";
    public IReadOnlyList<string> Flags => ["--pure", "--leave-output-tensor", "--allow-requantize"];
    public string Usage => $"""
        qwensharp quantize <in.gguf | hf folder> <out.gguf> <type> [--threads N] [--output-tensor-type T] [--token-embedding-type T]
                           [--pure] [--leave-output-tensor] [--allow-requantize]
          <in>: a GGUF (F32/F16/BF16; quantized with --allow-requantize) or a Hugging Face folder (safetensors f32/f16/bf16).
          <type>: {QuantizeFileTypes.Supported} (llama-quantize's names and mixtures).
          --pure                  every quantized tensor gets <type> (no Q6_K output, no more bits for attn_v/ffn_down)
          --leave-output-tensor   copy output.weight as it is
          --allow-requantize      accept an input that is already quantized
        """;

    public int Run(CliArgs args, TextWriter stdout, TextWriter stderr)
    {
        int threads = args.GetInt("--threads", 0, 0, 1024);
        string? outputType = args.Get("--output-tensor-type");
        string? embeddingType = args.Get("--token-embedding-type");
        bool pure = args.Flag("--pure");
        bool leaveOutput = args.Flag("--leave-output-tensor");
        bool allowRequantize = args.Flag("--allow-requantize");
        var positional = args.Positional;
        args.EnsureAllUsed();
        if (positional.Count != 3)
            throw new CliException($"quantize takes <in.gguf> <out.gguf> <type>; got {positional.Count} argument(s).");
        string input = positional[0], output = positional[1];
        QuantizeOptions options;
        try
        {
            options = new QuantizeOptions(QuantizeFileTypes.Parse(positional[2]))
            {
                Threads = threads,
                OutputTensorType = outputType == null ? null : QuantizeFileTypes.ParseTensorType(outputType),
                TokenEmbeddingType = embeddingType == null ? null : QuantizeFileTypes.ParseTensorType(embeddingType),
                Pure = pure,
                LeaveOutputTensor = leaveOutput,
                AllowRequantize = allowRequantize,
            };
        }
        catch (ArgumentException e)
        {
            throw new CliException(e.Message);
        }
        var clock = Stopwatch.StartNew();
        try
        {
            GgufQuantizer.Run(input, output, options, QuantizeProgressPrinter.For(stderr).Report);
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException or FormatException or NotSupportedException or DirectoryNotFoundException or System.Text.Json.JsonException)
        {
            throw new CliException(e.Message);
        }
        long inBytes = QwenSharp.Model.ModelFiles.WeightBytes(input);
        long outBytes = new FileInfo(output).Length;
        stdout.WriteLine($"wrote {output} ({options.FileType}, {inBytes / 1e6:F1} MB -> {outBytes / 1e6:F1} MB) in {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
}
