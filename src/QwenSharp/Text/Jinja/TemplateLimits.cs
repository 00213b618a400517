namespace QwenSharp.Text.Jinja;

/// <summary>
/// What one chat template may cost. A template and the values it is given come from outside (a model's
/// files, a request's messages and chat_template_kwargs), so parsing and rendering stop with a
/// <see cref="TemplateException"/> of kind <see cref="TemplateErrorKind.Limit"/>, naming the limit and the
/// template line, instead of looping for ever, exhausting memory or overflowing the stack. The defaults
/// leave real chat templates (Qwen, Llama, Mistral…) orders of magnitude of room.
/// </summary>
public sealed record TemplateLimits
{
    /// <summary>The limits used when none are given.</summary>
    public static TemplateLimits Default { get; } = new();

    /// <summary>Wall-clock time one render may take; <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> for none.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Work one render may do, in steps: one per statement, expression, loop iteration, macro call, item a
    /// filter or method visits and comparison, plus one per <see cref="CharactersPerStep"/> characters (or
    /// list items) an operation builds. Unlike <see cref="Timeout"/> it gives the same verdict on any machine.
    /// </summary>
    public long MaxSteps { get; init; } = 10_000_000;

    /// <summary>How many characters the output may have, and also any one string the template builds
    /// (UTF-16 code units, the unit of .NET string lengths).</summary>
    public int MaxOutputLength { get; init; } = 4 * 1024 * 1024;

    /// <summary>How many items a list or tuple the template builds may have (<c>[x] * n</c>, <c>a + b</c>,
    /// <c>split</c>, <c>list</c>…); lists the caller passes in are not counted.</summary>
    public int MaxListLength { get; init; } = 1_000_000;

    /// <summary>How many items <c>range()</c> may produce: Jinja2's sandbox allows 100,000 (jinja2.sandbox.MAX_RANGE).</summary>
    public int MaxRange { get; init; } = 100_000;

    /// <summary>How deeply the source may nest (tags, brackets, chained operators), macros may call each
    /// other, and containers may nest inside each other when printed, compared or converted to JSON.</summary>
    public int MaxDepth { get; init; } = 200;

    /// <summary>How deeply the interpreter may recurse while rendering: every nested statement, expression and
    /// macro call is one level, so this bounds the stack a render uses whatever the template does. A level
    /// takes up to about 1.4 KB of stack before the JIT optimizes the interpreter, so 500 levels fit in the
    /// 1.5 MB stack .NET gives secondary threads (request threads included).</summary>
    public int MaxEvaluationDepth { get; init; } = 500;

    /// <summary>Characters (or list items) built per step charged against <see cref="MaxSteps"/>, so that
    /// the steps also bound the memory a render allocates.</summary>
    public const int CharactersPerStep = 16;

    internal void Validate()
    {
        if (Timeout <= TimeSpan.Zero && Timeout != System.Threading.Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "Timeout must be positive or infinite.");
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSteps, 1, nameof(MaxSteps));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxOutputLength, 1, nameof(MaxOutputLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxListLength, 1, nameof(MaxListLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRange, 1, nameof(MaxRange));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDepth, 1, nameof(MaxDepth));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxEvaluationDepth, 1, nameof(MaxEvaluationDepth));
    }
}
