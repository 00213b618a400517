using System.Diagnostics;
using System.Reflection;
using System.Text;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace QwenSharp.Arm64Runner;

/// <summary>
/// Runs the xUnit v2 tests of QwenSharp.Tests whose full names (Namespace.Class.Method) start with one of the
/// arguments, one after another in this process, the way xUnit would: a new instance of the class per test case,
/// each [InlineData]/[MemberData] row of a [Theory] as a case, [Fact(Skip = …)] skipped, an
/// <see cref="ITestOutputHelper"/> given to constructors that ask for one (printed with the case when it fails).
/// Arguments starting with '-' exclude. Ends with the line 'N passed, N failed, N skipped'; exit code 1 when any failed
/// or nothing matched. It exists because an x86 machine has no arm64 test host: published self-contained for
/// linux-arm64, this runs under qemu-aarch64 (.ci/arm64-tests.sh).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var include = args.Where(a => !a.StartsWith('-')).ToArray();
        var exclude = args.Where(a => a.StartsWith('-')).Select(a => a[1..]).ToArray();
        if (include.Length == 0)
        {
            Console.Error.WriteLine("usage: QwenSharp.Arm64Runner PREFIX... [-EXCLUDED_PREFIX...] (prefixes of Namespace.Class.Method)");
            return 2;
        }
        var assembly = typeof(QwenSharp.Tests.Kernels.FastKernelTwinTests).Assembly;
        Console.WriteLine($"{System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}, {QwenSharp.Kernels.KernelTiers.Describe()}");
        int passed = 0, failed = 0, skipped = 0;
        var clock = Stopwatch.StartNew();
        foreach (var type in assembly.GetTypes().Where(t => t.IsPublic && t.IsClass && !t.IsAbstract).OrderBy(t => t.FullName))
        {
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance).OrderBy(m => m.MetadataToken))
            {
                var fact = method.GetCustomAttribute<FactAttribute>();
                string name = $"{type.FullName}.{method.Name}";
                if (fact == null || !include.Any(name.StartsWith) || exclude.Any(name.StartsWith)) continue;
                if (fact.Skip != null)
                {
                    skipped++;
                    Console.WriteLine($"SKIP {name}: {fact.Skip}");
                    continue;
                }
                foreach (var row in Rows(method))
                {
                    string label = row.Length == 0 ? name : $"{name}({string.Join(", ", row.Select(Show))})";
                    var output = new Output();
                    var started = clock.Elapsed;
                    string? error = Run(type, method, row, output);
                    double seconds = (clock.Elapsed - started).TotalSeconds;
                    if (error == null)
                    {
                        passed++;
                        Console.WriteLine($"PASS {label} [{seconds:F1} s]");
                    }
                    else
                    {
                        failed++;
                        Console.WriteLine($"FAIL {label} [{seconds:F1} s]\n  {error.Replace("\n", "\n  ")}");
                    }
                    if (output.Text.Length > 0) Console.WriteLine("  " + output.Text.TrimEnd().Replace("\n", "\n  "));
                }
            }
        }
        Console.WriteLine($"{passed} passed, {failed} failed, {skipped} skipped");
        return failed > 0 || passed == 0 ? 1 : 0;
    }

    /// <summary>The argument rows of a test: one empty row for a [Fact], each data attribute's rows for a [Theory].</summary>
    private static IEnumerable<object?[]> Rows(MethodInfo method)
    {
        var data = method.GetCustomAttributes<DataAttribute>().ToArray();
        if (data.Length == 0) return [[]];
        return data.SelectMany(d => d.GetData(method));
    }

    private static string? Run(Type type, MethodInfo method, object?[] row, Output output)
    {
        try
        {
            var ctor = type.GetConstructors().Single();
            var ctorArgs = ctor.GetParameters().Select(p => p.ParameterType == typeof(ITestOutputHelper)
                ? output
                : throw new NotSupportedException($"constructor parameter {p.ParameterType.Name} is not supported by this runner")).ToArray<object>();
            object instance = ctor.Invoke(ctorArgs);
            try
            {
                var parameters = method.GetParameters();
                var args = new object?[parameters.Length];
                for (int i = 0; i < parameters.Length; i++) args[i] = Convert(i < row.Length ? row[i] : parameters[i].DefaultValue, parameters[i].ParameterType);
                var result = method.Invoke(instance, args);
                if (result is Task task) task.GetAwaiter().GetResult();
            }
            finally
            {
                (instance as IDisposable)?.Dispose();
            }
            return null;
        }
        catch (Exception e)
        {
            var inner = e is TargetInvocationException { InnerException: { } i } ? i : e;
            return $"{inner.GetType().Name}: {inner.Message}\n{inner.StackTrace}";
        }
    }

    private static object? Convert(object? value, Type target)
    {
        if (value == null || target.IsInstanceOfType(value)) return value;
        var t = Nullable.GetUnderlyingType(target) ?? target;
        if (t.IsEnum) return Enum.ToObject(t, value);
        return System.Convert.ChangeType(value, t, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string Show(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private sealed class Output : ITestOutputHelper
    {
        private readonly StringBuilder _text = new();
        public string Text { get { lock (_text) return _text.ToString(); } }
        public void WriteLine(string message) { lock (_text) _text.AppendLine(message); }
        public void WriteLine(string format, params object[] args) { lock (_text) _text.AppendLine(string.Format(format, args)); }
    }
}
