namespace QwenSharp.Bench;

/// <summary>One benchmark program, `dotnet run -c Release --project bench/QwenSharp.Bench -- &lt;name&gt; …`.
/// Each lives in its own file and is discovered by reflection.</summary>
public interface IBenchmark
{
    string Name { get; }
    string Summary { get; }
    int Run(string[] args);
}
