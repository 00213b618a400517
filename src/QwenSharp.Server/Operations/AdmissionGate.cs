namespace QwenSharp.Server.Operations;

/// <summary>
/// Bounds the generation requests the server holds at once: --max-num-seqs running plus --max-waiting-requests
/// waiting. A request takes its place before its response starts (so a refusal is still a proper 429 with
/// Retry-After, never an error event inside a 200 stream) and gives it back when it ends, however it ends.
/// </summary>
public sealed class AdmissionGate(int running, int waiting)
{
    private int _held;

    public int Capacity { get; } = running + waiting;
    public int Held => Volatile.Read(ref _held);

    /// <summary>A place for one request, or a 429 naming the limit when every place is taken.</summary>
    public Place Enter()
    {
        if (Interlocked.Increment(ref _held) > Capacity)
        {
            Interlocked.Decrement(ref _held);
            throw new OpenAi.ApiException(429,
                $"The server is busy: {Capacity} generation requests are running or waiting (--max-num-seqs {running} plus --max-waiting-requests {waiting}); retry later.")
            { RetryAfterSeconds = 1 };
        }
        return new Place(this);
    }

    public sealed class Place(AdmissionGate gate) : IDisposable
    {
        private int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0) Interlocked.Decrement(ref gate._held);
        }
    }
}
