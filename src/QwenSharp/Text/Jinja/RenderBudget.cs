using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;

namespace QwenSharp.Text.Jinja;

/// <summary>
/// What is left of <see cref="TemplateLimits"/> during one render: the interpreter and every operation that
/// can cost more than a constant (building strings and lists, comparing containers, sorting, searching)
/// charges it, so a hostile template or input ends in a <see cref="TemplateErrorKind.Limit"/> error instead
/// of a hang, an out-of-memory or a stack overflow. Used by one render on one thread.
/// </summary>
internal sealed class RenderBudget
{
    /// <summary>Steps between two reads of the clock; each step is bounded (no operation builds more than
    /// MaxOutputLength characters or MaxListLength items), so the clock is read often enough.</summary>
    private const int ClockInterval = 64;

    private readonly long _deadline;
    private long _steps;
    private long _nextCheck;
    private int _evaluationDepth;
    private int _macroDepth;

    public RenderBudget(TemplateLimits limits)
    {
        limits.Validate();
        Limits = limits;
        _deadline = limits.Timeout == Timeout.InfiniteTimeSpan
            ? long.MaxValue
            : Stopwatch.GetTimestamp() + (long)Math.Min(limits.Timeout.TotalSeconds * Stopwatch.Frequency, long.MaxValue / 2);
        _nextCheck = NextCheck();
    }

    public TemplateLimits Limits { get; }

    /// <summary>The steps charged so far (for tests and diagnostics).</summary>
    public long Steps => _steps;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step()
    {
        if (++_steps >= _nextCheck) Check();
    }

    /// <summary>Charges <paramref name="units"/> (&gt;= 0, far below long.MaxValue) steps of work at once
    /// (a sort, a search, a copy).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Charge(long units)
    {
        _steps += units;
        if (_steps >= _nextCheck) Check();
    }

    /// <summary>Charges a substring search: .NET's ordinal search is vectorized and linear for ordinary
    /// needles, but a contrived needle can cost a comparison of its length at many positions.</summary>
    public void ChargeSearch(long haystack, long needle) =>
        Charge(1 + haystack / TemplateLimits.CharactersPerStep * (1 + needle / 64));

    private void Check()
    {
        if (_steps > Limits.MaxSteps)
            throw Exceeded($"the render takes more than {Limits.MaxSteps} steps", nameof(TemplateLimits.MaxSteps));
        if (Stopwatch.GetTimestamp() > _deadline)
            throw Exceeded($"the render takes longer than {Limits.Timeout.TotalSeconds:0.###} s", nameof(TemplateLimits.Timeout));
        _nextCheck = NextCheck();
    }

    /// <summary>The step count at which to look again: in ClockInterval steps, or just past MaxSteps if sooner
    /// (written so that MaxSteps = long.MaxValue does not overflow).</summary>
    private long NextCheck() => Limits.MaxSteps - _steps < ClockInterval ? Limits.MaxSteps + 1 : _steps + ClockInterval;

    /// <summary>Refuses, before it is built, a string of <paramref name="length"/> characters longer than
    /// MaxOutputLength, and charges the copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void BuildString(long length, string what)
    {
        CheckString(length, what);
        Charge(1 + length / TemplateLimits.CharactersPerStep);
    }

    /// <summary>Refuses a string longer than MaxOutputLength without charging (for a result growing piece by piece).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void CheckString(long length, string what)
    {
        if (length > Limits.MaxOutputLength) ThrowString(length, what);
    }

    private void ThrowString(long length, string what) =>
        throw Exceeded($"{what} would build a string of {length} characters, more than {Limits.MaxOutputLength}", nameof(TemplateLimits.MaxOutputLength));

    /// <summary>Refuses, before it is built, a list of more than MaxListLength items, and charges the copy.</summary>
    public void BuildList(long count, string what)
    {
        if (count > Limits.MaxListLength)
            throw Exceeded($"{what} would build a list of {count} items, more than {Limits.MaxListLength}", nameof(TemplateLimits.MaxListLength));
        Charge(1 + count / TemplateLimits.CharactersPerStep);
    }

    /// <summary>Checks an output buffer (the template's, a macro's or a set block's) after an append;
    /// an append is at most one string, itself bounded, so the buffer never grows far past the limit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void CheckOutput(StringBuilder output)
    {
        if (output.Length > Limits.MaxOutputLength) ThrowOutput();
    }

    private void ThrowOutput() =>
        throw Exceeded($"the output would be longer than {Limits.MaxOutputLength} characters", nameof(TemplateLimits.MaxOutputLength));

    /// <summary>One level deeper in the interpreter's recursion (a statement, an expression, a macro body);
    /// pair with <see cref="Leave"/>. After an error the render is over, so no finally is needed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Enter()
    {
        if (++_evaluationDepth > Limits.MaxEvaluationDepth || (_evaluationDepth & 15) == 0) CheckDepth();
        if (++_steps >= _nextCheck) Check();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Leave() => _evaluationDepth--;

    private void CheckDepth()
    {
        if (_evaluationDepth > Limits.MaxEvaluationDepth)
            throw Exceeded($"the evaluation nests deeper than {Limits.MaxEvaluationDepth} levels", nameof(TemplateLimits.MaxEvaluationDepth));
        // The depth limit is what stops recursion; this only guards a render started on an already deep stack.
        if (!RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw Exceeded($"the evaluation ran short of stack at {_evaluationDepth} levels", nameof(TemplateLimits.MaxEvaluationDepth));
    }

    public void EnterMacro(string name)
    {
        if (++_macroDepth > Limits.MaxDepth)
            throw Exceeded($"calls of macro '{name}' nest deeper than {Limits.MaxDepth}", nameof(TemplateLimits.MaxDepth));
        Step();
    }

    public void LeaveMacro() => _macroDepth--;

    /// <summary>Refuses a container nested deeper than MaxDepth (printing, comparing or converting it recurses).</summary>
    public void CheckValueDepth(int depth)
    {
        if (depth > Limits.MaxDepth) throw ValueTooDeep(Limits.MaxDepth);
    }

    public static TemplateException ValueTooDeep(int maxDepth) =>
        Exceeded($"a value nests deeper than {maxDepth} levels", nameof(TemplateLimits.MaxDepth));

    public static TemplateException Exceeded(string what, string limit) =>
        TemplateException.Limit($"{what} (TemplateLimits.{limit})");
}
