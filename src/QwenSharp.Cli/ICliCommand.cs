namespace QwenSharp.Cli;

/// <summary>One `qwensharp` sub-command. Each lives in its own file under Commands/.</summary>
public interface ICliCommand
{
    string Name { get; }
    string Summary { get; }
    /// <summary>Options that take no value, so the parser does not swallow the next word.</summary>
    IReadOnlyList<string> Flags { get; }
    string Usage { get; }
    int Run(CliArgs args, TextWriter stdout, TextWriter stderr);
}
