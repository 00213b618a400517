
namespace QwenSharp.Cli;

/// <summary>Dispatches `qwensharp &lt;command&gt; …`; turns user errors into one line and a non-zero exit.</summary>
public static class CliApp
{
    /// <summary>Every class implementing <see cref="ICliCommand"/> in this assembly (one file each under
    /// Commands/), so adding a command touches no shared list.</summary>
    public static IReadOnlyList<ICliCommand> Commands { get; } = typeof(CliApp).Assembly.GetTypes()
        .Where(t => typeof(ICliCommand).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
        .Select(t => (ICliCommand)Activator.CreateInstance(t)!)
        .OrderBy(c => c.Name, StringComparer.Ordinal)
        .ToArray();

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            PrintHelp(stdout);
            return args.Length == 0 ? 1 : 0;
        }
        if (args[0] is "--version")
        {
            stdout.WriteLine(typeof(CliApp).Assembly.GetName().Version);
            return 0;
        }
        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command == null)
        {
            stderr.WriteLine($"error: unknown command '{args[0]}'. Commands: {string.Join(", ", Commands.Select(c => c.Name))}.");
            return 1;
        }
        bool verbose = args.Contains("--verbose");
        try
        {
            var parsed = new CliArgs(args.Skip(1).ToArray(), command.Flags);
            if (parsed.Flag("--help", "-h"))
            {
                stdout.WriteLine(command.Usage);
                return 0;
            }
            return command.Run(parsed, stdout, stderr);
        }
        catch (Exception e) when (!verbose)
        {
            stderr.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"error: {e}");
            return 1;
        }
    }

    private static void PrintHelp(TextWriter w)
    {
        w.WriteLine("qwensharp: Qwen2 language models in .NET");
        w.WriteLine();
        w.WriteLine("Commands:");
        foreach (var c in Commands) w.WriteLine($"  {c.Name,-14} {c.Summary}");
        w.WriteLine();
        w.WriteLine("Run 'qwensharp <command> --help' for its options. Add --verbose for stack traces.");
    }
}
