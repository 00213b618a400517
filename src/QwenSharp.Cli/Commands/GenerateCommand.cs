using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using QwenSharp.Engine;
using QwenSharp.Generation;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Cli.Commands;

/// <summary>
/// `qwensharp generate`: one completion, as the model card's quickstart does it (chat template, generate,
/// decode without special tokens), streamed to stdout or reported as one JSON object.
/// </summary>
public sealed class GenerateCommand : ICliCommand
{
    public string Name => "generate";
    public string Summary => "Generate a reply to one prompt (chat template applied unless --raw), streamed or as JSON";
    public IReadOnlyList<string> Flags => ["--raw", "--json", "--ignore-eos"];

    public string Usage => """
        qwensharp generate --model <m> --prompt "…" [--system "…"] [--max-tokens N] [--temperature T]
                           [--top-p P] [--top-k K] [--seed S] [--stop S]... [--ignore-eos] [--raw] [--json]
                           [--ctx N] [--kv-cache-dtype T] [--rope-scaling-mode M] [--threads N]

          --model        a model folder, GGUF file, Hugging Face repo id or Ollama name
          --prompt       the user message (with --raw: the exact text to continue)
          --system       a system message (not with --raw)
          --max-tokens   most tokens to generate (default: the room left in the context)
          --temperature, --top-p, --top-k, --seed
                         sampling as vLLM; unset values come from generation_config.json (0 = greedy)
          --stop         a string that ends the reply (repeatable); it is never printed
          --ignore-eos   keep generating past end-of-sequence tokens
          --raw          tokenize the prompt as it is, without the chat template
          --json         print one JSON object: text, token_ids, finish_reason, prompt_tokens,
                         completion_tokens, seed and the resolved sampling parameters
          --ctx          context length in tokens (default: the model's, at most 8192); sizes the KV cache
          --kv-cache-dtype  KV cache type: f16 (default), bf16, q8_0 or f32 (llama.cpp's -ctk/-ctv)
          --rope-scaling-mode  with YaRN in the config: length-aware (default: plain RoPE while the sequence fits
                         original_max_position_embeddings, YaRN beyond) or static (YaRN always, as vLLM);
                         --json reports it in sampling_params.rope_scaling
          --threads      compute threads (default: all cores)
        """;

    public int Run(CliArgs args, TextWriter stdout, TextWriter stderr)
    {
        string model = args.Required("--model", "-m");
        string prompt = args.Required("--prompt", "-p");
        string? system = args.Get("--system");
        bool raw = args.Flag("--raw");
        bool json = args.Flag("--json");
        var sampling = ReadSampling(args);
        int? ctx = ReadContext(args);
        var kvType = KvCacheOption.Read(args);
        var ropeMode = RopeScalingOption.Read(args);
        int threads = args.GetInt("--threads", Environment.ProcessorCount, 1, 1024, "-t");
        args.EnsureAllUsed();
        if (raw && system != null) throw new CliException("--system needs the chat template; it cannot be used with --raw.");
        // Checked before the model loads, so a bad value costs nothing.
        sampling.Resolve();

        Kernels.WorkerPool.SetSharedThreadCount(threads);
        using var loaded = Load(model, ctx, kvType, stderr, ropeMode);
        string text;
        if (raw)
        {
            text = prompt;
        }
        else
        {
            RequireTemplate(loaded);
            var messages = new JsonArray();
            if (system != null) messages.Add(new JsonObject { ["role"] = "system", ["content"] = system });
            messages.Add(new JsonObject { ["role"] = "user", ["content"] = prompt });
            text = loaded.RenderChat(messages);
        }
        int[] ids = loaded.Tokenizer.Encode(text);
        if (ids.Length == 0) throw new CliException("The prompt is empty; it tokenizes to no tokens.");
        var resolved = loaded.Resolve(sampling, ids.Length);
        if (loaded.Engine.Refusal(ids.Length, resolved.MaxTokens) is { } refusal) throw new CliException(refusal);

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var clock = Stopwatch.StartNew();
            var (result, firstToken, rope) = Stream(loaded, ids, resolved, json ? null : stdout, clock, cancel.Token).GetAwaiter().GetResult();
            double seconds = clock.Elapsed.TotalSeconds;
            if (json)
            {
                stdout.WriteLine(ToJson(result, ids, rope).ToJsonString());
            }
            else
            {
                stdout.WriteLine();
                stderr.WriteLine(Speed(result.PromptTokens, result.CompletionTokens, firstToken, seconds, result.FinishReason));
            }
            return 0;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            stdout.WriteLine();
            stderr.WriteLine("cancelled");
            return 130;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Runs one request, writing each delta to <paramref name="output"/> (when given) as it comes.</summary>
    private static async Task<(GenerationResult Result, double FirstTokenSeconds, RopeReport? Rope)> Stream(LoadedModel model, int[] prompt,
        ResolvedSamplingParams parameters, TextWriter? output, Stopwatch clock, CancellationToken cancellationToken)
    {
        GenerationResult? result = null;
        RopeReport? rope = null;
        double firstToken = -1;
        await foreach (var e in model.GenerateAsync(prompt, parameters, 0, cancellationToken).ConfigureAwait(false))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (firstToken < 0) firstToken = clock.Elapsed.TotalSeconds;
            if (output != null && e.TextDelta.Length > 0)
            {
                output.Write(e.TextDelta);
                output.Flush();
            }
            result = e.Result ?? result;
            rope = e.Rope ?? rope;
        }
        return (result ?? throw new InvalidOperationException("The engine ended the request without a result."), firstToken, rope);
    }

    /// <summary>The result as vLLM's fields name it, plus the prompt ids and every resolved sampling value (with the rotary
    /// table it ran under, on a model whose config has YaRN).</summary>
    internal static JsonObject ToJson(GenerationResult result, int[] promptIds, RopeReport? rope = null) => new()
    {
        ["text"] = result.Text,
        ["token_ids"] = new JsonArray(result.TokenIds.Select(i => (JsonNode)i).ToArray()),
        ["finish_reason"] = result.FinishReason.ToWireName(),
        ["stop_reason"] = result.StopString is { } s ? JsonValue.Create(s) : result.StopTokenId is { } t ? JsonValue.Create(t) : null,
        ["prompt_tokens"] = result.PromptTokens,
        ["completion_tokens"] = result.CompletionTokens,
        ["prompt_token_ids"] = new JsonArray(promptIds.Select(i => (JsonNode)i).ToArray()),
        ["seed"] = result.Seed,
        ["sampling_params"] = WithRope(JsonNode.Parse(result.Parameters.ToJson())!.AsObject(), rope),
    };

    /// <summary>The sampling options both generate and chat take; range checks happen on Resolve.</summary>
    internal static SamplingParams ReadSampling(CliArgs args)
    {
        int? maxTokens = args.Get("--max-tokens", "-n") is not null ? args.GetInt("--max-tokens", 0, 1, int.MaxValue, "-n") : null;
        int? topK = args.Get("--top-k") is not null ? args.GetInt("--top-k", 0) : null;
        long? seed = null;
        if (args.Get("--seed", "-s") is { } seedText)
            seed = long.TryParse(seedText, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v)
                ? v
                : throw new CliException($"Option --seed must be an integer, got '{seedText}'.");
        var stop = args.GetAll("--stop");
        return new SamplingParams
        {
            Temperature = args.GetDouble("--temperature", "--temp"),
            TopP = args.GetDouble("--top-p"),
            TopK = topK,
            Seed = seed,
            MaxTokens = maxTokens,
            Stop = stop.Count > 0 ? stop : null,
            IgnoreEos = args.Flag("--ignore-eos") ? true : null,
        };
    }

    private static JsonObject WithRope(JsonObject parameters, RopeReport? rope)
    {
        if (rope != null) parameters["rope_scaling"] = rope.ToJson();
        return parameters;
    }

    internal static int? ReadContext(CliArgs args) =>
        args.Get("--ctx", "-c") is not null ? args.GetInt("--ctx", 0, 2, 1 << 24, "-c") : null;

    /// <summary>
    /// Loads the model for one user: the KV cache holds exactly one context of <paramref name="ctx"/> tokens
    /// (default: the model's context, at most 8192) rather than a server's budget. The memory plan (weights + KV +
    /// scratch) is checked against free memory before anything loads, and printed to <paramref name="log"/>.
    /// </summary>
    internal static LoadedModel Load(string model, int? ctx, KvCacheType kvType, TextWriter? log = null,
        RopeScalingMode ropeMode = RopeScalingMode.LengthAware)
    {
        string path = ModelPaths.Resolve(model);
        int length = ctx ?? Math.Min(OneContextPlan.ModelContext(path), 8192);
        var (options, plan) = OneContextPlan.Make(path, length, kvType, "--ctx", log);
        options = options with { RopeScalingMode = ropeMode };
        return LoadedModel.Load(path, options, plan: plan);
    }

    internal static void RequireTemplate(LoadedModel model)
    {
        if (model.Template == null)
            throw new CliException($"Model {model.Path} has no chat template; use --raw to send the prompt as it is.");
    }

    /// <summary>
    /// One line of timings: the prompt's time to first token, then the decode rate over the tokens after the
    /// first (llama.cpp's eval rate), since the first token's time is mostly the prompt's.
    /// </summary>
    internal static string Speed(int promptTokens, int completionTokens, double firstTokenSeconds, double seconds, FinishReason reason)
    {
        double decodeSeconds = seconds - firstTokenSeconds;
        double rate = completionTokens > 1 && decodeSeconds > 0 ? (completionTokens - 1) / decodeSeconds : completionTokens / Math.Max(seconds, 1e-9);
        return string.Create(CultureInfo.InvariantCulture,
            $"[prompt {promptTokens} tokens, first token after {firstTokenSeconds:F2} s; {completionTokens} tokens in {seconds:F2} s, {rate:F1} tokens/s; finish: {reason.ToWireName()}]");
    }
}
