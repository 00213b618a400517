using QwenSharp.Engine;

namespace QwenSharp.Tests.Engine;

/// <summary>The engine loop in miniature: schedule, execute on the fake model, update; records each request's output.</summary>
internal sealed class SchedulerDriver
{
    private readonly Dictionary<long, List<int>> _tokens = new();
    private readonly Dictionary<long, int> _promptLength = new();
    private readonly Dictionary<long, int> _maxTokens = new();
    private readonly List<SequenceOutcome> _outcomes = new();

    public SchedulerDriver(SchedulerOptions options, int? stopToken = null)
    {
        Scheduler = new Scheduler(options);
        Model = new FakeModel(Scheduler);
        StopToken = stopToken;
    }

    public Scheduler Scheduler { get; }
    public FakeModel Model { get; }
    public int? StopToken { get; }
    public HashSet<long> Finished { get; } = new();
    public HashSet<long> Aborted { get; } = new();
    public StepPlan? LastPlan { get; private set; }
    public int Steps { get; private set; }
    public long Preemptions { get; private set; }

    public long Submit(IReadOnlyList<int> prompt, int maxTokens, QwenSharp.Model.RopeMode rope = QwenSharp.Model.RopeMode.Yarn)
    {
        long id = Scheduler.Submit(prompt.ToArray(), maxTokens, rope);
        _tokens[id] = new List<int>(prompt);
        _promptLength[id] = prompt.Count;
        _maxTokens[id] = maxTokens;
        return id;
    }

    public IReadOnlyList<int> Prompt(long id) => _tokens[id].Take(_promptLength[id]).ToList();
    public int MaxTokens(long id) => _maxTokens[id];
    public List<int> Output(long id) => _tokens[id].Skip(_promptLength[id]).ToList();

    public IEnumerable<long> Live => _tokens.Keys.Where(id => !Finished.Contains(id) && !Aborted.Contains(id));

    public bool Abort(long id)
    {
        bool known = Scheduler.Abort(id);
        if (known) Aborted.Add(id);
        return known;
    }

    /// <summary>Schedules and runs one step and reports it; the caller finishes a sequence at its stop token or max tokens.</summary>
    public StepPlan Step(Action? whileTheModelRuns = null)
    {
        var plan = Scheduler.Schedule();
        LastPlan = plan;
        var sampled = Model.Execute(plan, id => _tokens[id]);
        whileTheModelRuns?.Invoke();
        Preemptions += plan.Preempted.Count;
        _outcomes.Clear();
        foreach (var (id, token) in sampled)
        {
            if (Aborted.Contains(id)) continue;
            _tokens[id].Add(token);
            bool finished = token == StopToken || _tokens[id].Count - _promptLength[id] == _maxTokens[id];
            if (finished) Finished.Add(id);
            _outcomes.Add(new SequenceOutcome(id, token, finished));
        }
        Scheduler.Update(_outcomes.ToArray());
        Steps++;
        return plan;
    }

    public void RunUntilIdle(int maxSteps = 100_000)
    {
        while (Scheduler.HasUnfinished)
        {
            Assert.True(Steps < maxSteps, "the scheduler made no progress");
            Step();
        }
    }

    /// <summary>Every finished request generated exactly what it generates alone.</summary>
    public void AssertOutputsMatchReference()
    {
        foreach (long id in Finished)
            Assert.Equal(FakeModel.Reference(Prompt(id), _maxTokens[id], StopToken), Output(id));
    }
}
