using System.Diagnostics;
using Microsoft.Extensions.AI;
using QwenSharp.Engine;
using QwenSharp.Generation;

namespace QwenSharp.Cli.Commands;

/// <summary>
/// `qwensharp chat`: a terminal conversation. Reads one user message per line (so it works on piped input),
/// streams each reply to stdout and keeps the conversation; /reset, /system and /exit steer it. Progress,
/// speed and notices go to stderr, so stdout holds only the replies.
/// </summary>
public sealed class ChatCommand : ICliCommand
{
    private readonly TextReader? _input;

    /// <summary>Reads the terminal (standard input).</summary>
    public ChatCommand()
    {
    }

    /// <summary>Reads user lines from <paramref name="input"/> instead of standard input (tests, scripts).</summary>
    public ChatCommand(TextReader input) => _input = input;

    public string Name => "chat";
    public string Summary => "Chat with a model in the terminal (streams replies; /reset, /system <text>, /exit)";
    public IReadOnlyList<string> Flags => ["--ignore-eos"];

    public string Usage => """
        qwensharp chat --model <m> [--system "…"] [--max-tokens N] [--temperature T] [--top-p P] [--top-k K]
                       [--seed S] [--stop S]... [--ctx N] [--kv-cache-dtype T] [--rope-scaling-mode M] [--threads N]

          One message per line; the reply streams back. Commands:
            /reset          forget the conversation (the system message stays)
            /system <text>  set the system message (an empty text removes it); the conversation goes on
            /exit           leave (so does end of input, Ctrl-D)
          Sampling options are generate's; unset values come from generation_config.json.
          --rope-scaling-mode: length-aware (default) or static, as for generate.
        """;

    public int Run(CliArgs args, TextWriter stdout, TextWriter stderr)
    {
        string model = args.Required("--model", "-m");
        string? system = args.Get("--system");
        var sampling = GenerateCommand.ReadSampling(args);
        int? ctx = GenerateCommand.ReadContext(args);
        var kvType = KvCacheOption.Read(args);
        var ropeMode = RopeScalingOption.Read(args);
        int threads = args.GetInt("--threads", Environment.ProcessorCount, 1, 1024, "-t");
        args.EnsureAllUsed();
        // Checked before the model loads, so a bad value costs nothing.
        sampling.Resolve();

        Kernels.WorkerPool.SetSharedThreadCount(threads);
        using var loaded = LoadWithProgress(model, ctx, kvType, ropeMode, stderr);
        GenerateCommand.RequireTemplate(loaded);
        using var client = new QwenChatClient(loaded);
        var options = ToChatOptions(sampling);

        var input = _input ?? Console.In;
        bool interactive = _input == null && !Console.IsInputRedirected;
        var conversation = new List<ChatMessage>();
        stderr.WriteLine(Kernels.KernelTiers.Describe());
        stderr.WriteLine("Type a message and press Enter; /reset, /system <text>, /exit.");
        while (true)
        {
            if (interactive)
            {
                stdout.Write(">>> ");
                stdout.Flush();
            }
            string? line = input.ReadLine();
            if (line == null) break;
            string trimmed = line.Trim();
            if (trimmed.Length == 0) continue;
            if (trimmed.StartsWith('/'))
            {
                string command = trimmed.Split(' ', 2)[0];
                string argument = trimmed.Length > command.Length ? trimmed[command.Length..].Trim() : "";
                switch (command)
                {
                    case "/exit" or "/quit" or "/bye":
                        return 0;
                    case "/reset":
                        conversation.Clear();
                        stderr.WriteLine("(conversation cleared)");
                        continue;
                    case "/system":
                        system = argument.Length > 0 ? argument : null;
                        stderr.WriteLine(system == null ? "(system message removed)" : "(system message set)");
                        continue;
                    case "/help":
                        stderr.WriteLine(Usage);
                        continue;
                    default:
                        stderr.WriteLine($"Unknown command {command}; commands: /reset, /system <text>, /exit.");
                        continue;
                }
            }

            conversation.Add(new ChatMessage(ChatRole.User, line));
            var messages = system == null ? conversation : [new ChatMessage(ChatRole.System, system), .. conversation];
            string? reply = Reply(client, messages, options, stdout, stderr);
            if (reply == null) conversation.RemoveAt(conversation.Count - 1);
            else conversation.Add(new ChatMessage(ChatRole.Assistant, reply));
        }
        return 0;
    }

    /// <summary>Streams one reply; returns its text, or null when it was refused or cancelled (the turn is dropped).</summary>
    private static string? Reply(QwenChatClient client, IReadOnlyList<ChatMessage> messages, ChatOptions options,
        TextWriter stdout, TextWriter stderr)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        var clock = Stopwatch.StartNew();
        try
        {
            var (text, usage, finish, firstToken) = StreamReply(client, messages, options, stdout, clock, cancel.Token).GetAwaiter().GetResult();
            stdout.WriteLine();
            stdout.Flush();
            var reason = finish == ChatFinishReason.Length ? FinishReason.Length : FinishReason.Stop;
            stderr.WriteLine(GenerateCommand.Speed((int)(usage?.InputTokenCount ?? 0), (int)(usage?.OutputTokenCount ?? 0),
                firstToken, clock.Elapsed.TotalSeconds, reason));
            return text;
        }
        catch (RequestRefusedException e)
        {
            stderr.WriteLine($"error: {e.Message} Use /reset to start over.");
            return null;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            stdout.WriteLine();
            stderr.WriteLine("(reply cancelled)");
            return null;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static async Task<(string Text, UsageDetails? Usage, ChatFinishReason? Finish, double FirstTokenSeconds)> StreamReply(
        QwenChatClient client, IReadOnlyList<ChatMessage> messages, ChatOptions options, TextWriter stdout, Stopwatch clock,
        CancellationToken cancellationToken)
    {
        var text = new System.Text.StringBuilder();
        UsageDetails? usage = null;
        ChatFinishReason? finish = null;
        double firstToken = -1;
        await foreach (var update in client.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            if (firstToken < 0) firstToken = clock.Elapsed.TotalSeconds;
            string delta = update.Text;
            if (delta.Length > 0)
            {
                stdout.Write(delta);
                stdout.Flush();
                text.Append(delta);
            }
            finish = update.FinishReason ?? finish;
            foreach (var content in update.Contents)
                if (content is UsageContent u) usage = u.Details;
        }
        return (text.ToString(), usage, finish, Math.Max(firstToken, 0));
    }

    /// <summary>The command line's sampling values as ChatOptions (the client maps them back through ChatOptionsSampling).</summary>
    private static ChatOptions ToChatOptions(SamplingParams p)
    {
        var options = new ChatOptions
        {
            Temperature = (float?)p.Temperature,
            TopP = (float?)p.TopP,
            TopK = p.TopK,
            Seed = p.Seed,
            MaxOutputTokens = p.MaxTokens,
            StopSequences = p.Stop is { } stop ? [.. stop] : null,
        };
        if (p.IgnoreEos == true) options.AdditionalProperties = new AdditionalPropertiesDictionary { ["ignore_eos"] = true };
        return options;
    }

    /// <summary>Loads the model, printing a dot a second to stderr meanwhile and what was loaded at the end.</summary>
    private static LoadedModel LoadWithProgress(string model, int? ctx, Tensors.KvCacheType kvType, Model.RopeScalingMode ropeMode, TextWriter stderr)
    {
        stderr.Write($"Loading {model} ");
        stderr.Flush();
        var clock = Stopwatch.StartNew();
        using var done = new ManualResetEventSlim();
        var dots = new Thread(() =>
        {
            while (!done.Wait(1000))
            {
                stderr.Write('.');
                stderr.Flush();
            }
        }) { IsBackground = true, Name = "qwensharp-load-progress" };
        dots.Start();
        LoadedModel loaded;
        try
        {
            loaded = GenerateCommand.Load(model, ctx, kvType, stderr, ropeMode);
        }
        finally
        {
            done.Set();
            dots.Join();
            stderr.WriteLine();
        }
        var c = loaded.Model.Config;
        stderr.WriteLine(FormattableString.Invariant(
            $"Loaded in {clock.Elapsed.TotalSeconds:F1} s: {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, vocabulary {c.VocabSize}, context {loaded.MaxModelLen} tokens."));
        return loaded;
    }
}
