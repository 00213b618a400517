using QwenSharp.Bench;

var benchmarks = typeof(IBenchmark).Assembly.GetTypes()
    .Where(t => typeof(IBenchmark).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (IBenchmark)Activator.CreateInstance(t)!)
    .OrderBy(b => b.Name, StringComparer.Ordinal)
    .ToList();

var chosen = args.Length > 0 ? benchmarks.FirstOrDefault(b => b.Name == args[0]) : null;
if (chosen == null)
{
    Console.Error.WriteLine("usage: QwenSharp.Bench <benchmark> [options]");
    foreach (var b in benchmarks) Console.Error.WriteLine($"  {b.Name,-16} {b.Summary}");
    return 1;
}
return chosen.Run(args[1..]);
